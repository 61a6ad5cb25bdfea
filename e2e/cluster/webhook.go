package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// WebhookName is the name of the ValidatingWebhookConfiguration and its
// one webhook; the API server's rejections quote it.
const WebhookName = "validate.ironlb.io"

// WebhookConfiguration registers IronLB's validating webhook at url for
// every ironlb.io configuration kind, as the Helm chart does.
func WebhookConfiguration(url string, caPEM []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "ironlb-validating-webhook"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    WebhookName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE", "DELETE"},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{"ironlb.io"}, APIVersions: []string{"v1beta1"},
					Resources: []string{"ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers", "bfdprofiles", "communities"},
				},
			}},
		}},
	}
}

// webhookServing prepares a certificate and a port for the controller's
// webhook and returns the flags that make it serve there.
func (c *Cluster) webhookServing() ([]string, error) {
	dir := filepath.Join(c.logDir, "webhook-certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := kubeapi.WriteServingCert(dir)
	if err != nil {
		return nil, err
	}
	port, err := kubeapi.FreePort()
	if err != nil {
		return nil, err
	}
	c.webhookCA, c.webhookURL = ca, fmt.Sprintf("https://127.0.0.1:%d/validate-ironlb-io-v1beta1", port)
	return []string{"-webhook-port", fmt.Sprint(port), "-webhook-host", "127.0.0.1", "-webhook-cert-dir", dir}, nil
}

// InstallWebhook registers the controller's webhook (Options.Webhook) with
// the API server; from then on every ironlb.io object passes through it.
func (c *Cluster) InstallWebhook(ctx context.Context) error {
	if c.webhookURL == "" {
		return fmt.Errorf("the cluster was started without Options.Webhook")
	}
	return c.Client.Create(ctx, WebhookConfiguration(c.webhookURL, c.webhookCA))
}

// RemoveWebhook unregisters the webhook; the controller keeps serving it.
func (c *Cluster) RemoveWebhook(ctx context.Context) error {
	err := c.Client.Delete(ctx, WebhookConfiguration(c.webhookURL, c.webhookCA))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
