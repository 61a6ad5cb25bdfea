package controller_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/controller/memberkey"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// TestWebhookWithRotatedCertificate runs the webhook as the chart does:
// the controller, as its ServiceAccount with the generated Role (which
// names the two Secrets it may read), fills the empty Secret the chart
// creates with a CA and a serving certificate, injects the CA into the
// webhook configuration and serves; the API server, trusting only that
// CA, then sends it every ironlb.io write. Another Secret in the namespace
// sits beside them, which the controller may not read: a cache that listed
// every Secret would be refused and the webhook would never start.
func TestWebhookWithRotatedCertificate(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	ctx := context.Background()
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "bgp-password"}, StringData: map[string]string{"password": "x"}})
	port := freePort(e.t)
	// The API server reaches the controller by URL on loopback, so the
	// certificate must also name localhost (the Service's name is for
	// in-cluster calls).
	e.create(cluster.WebhookConfiguration(fmt.Sprintf("https://localhost:%d/validate-ironlb-io-v1beta1", port), nil))
	ctrl := e.startController("-webhook-port", fmt.Sprint(port), "-webhook-host", "127.0.0.1", "-webhook-cert-dir", t.TempDir(),
		"-webhook-cert-secret", cluster.WebhookCertSecret, "-webhook-extra-dns-names", "localhost")
	waitFor(t, 60*time.Second, "the webhook to answer with the rotated certificate", func() (bool, error) {
		if !ctrl.alive() {
			t.Fatalf("controller exited; log:\n%s", tail(ctrl.log, 40))
		}
		err := e.c.Create(ctx, pool("probe", "192.0.2.0/32"), client.DryRunAll)
		return err == nil, err
	})

	var secret corev1.Secret
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: cluster.WebhookCertSecret}, &secret); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
		if len(secret.Data[k]) == 0 {
			t.Errorf("Secret %s: no %s", cluster.WebhookCertSecret, k)
		}
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := e.c.Get(ctx, client.ObjectKey{Name: "ironlb-validating-webhook"}, &vwc); err != nil {
		t.Fatal(err)
	}
	if ca := vwc.Webhooks[0].ClientConfig.CABundle; !bytes.Equal(ca, secret.Data["ca.crt"]) {
		t.Errorf("webhook caBundle (%d bytes) is not the CA in the Secret (%d bytes)", len(ca), len(secret.Data["ca.crt"]))
	}

	err := e.c.Create(ctx, pool("reversed", "203.0.113.100-203.0.113.90"))
	if err == nil || !strings.Contains(err.Error(), cluster.WebhookName) || !strings.Contains(err.Error(), "spec.addresses[0]") {
		t.Fatalf("reversed range: want the webhook's rejection naming spec.addresses[0], got %v", err)
	}
	if err := e.c.Create(ctx, pool("web", "203.0.113.0/25")); err != nil {
		t.Fatalf("valid pool rejected: %v", err)
	}

	// The members key, in the other Secret the controller may write.
	waitFor(t, 30*time.Second, "the controller to set the members key", func() (bool, error) {
		var members corev1.Secret
		err := e.c.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: cluster.MembersSecret}, &members)
		return err == nil && len(members.Data[memberkey.Key]) == 64, err
	})
	if log, err := os.ReadFile(ctrl.log); err != nil || bytes.Contains(log, []byte("forbidden")) {
		t.Errorf("the controller was refused a request; log:\n%s", tail(ctrl.log, 40))
	}
}
