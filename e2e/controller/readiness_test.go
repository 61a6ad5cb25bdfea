package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// TestReadyOnlyWhileTheWebhookServes: /readyz says whether the replica
// serves the webhook, the one thing the webhook Service routes to it for
// (its verbose answer names the check), and it stays ready, like /healthz,
// through an API server outage that costs it the Lease: every replica
// serves the webhook, leader or not, between terms too.
func TestReadyOnlyWhileTheWebhookServes(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	port, probes := freePort(t), fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	e.create(cluster.WebhookConfiguration(fmt.Sprintf("https://localhost:%d/validate-ironlb-io-v1beta1", port), nil))
	ctrl := e.startController(append(outageTiming("0"),
		"-health-probe-bind-address", strings.TrimPrefix(probes, "http://"),
		"-webhook-port", fmt.Sprint(port), "-webhook-host", "127.0.0.1", "-webhook-cert-dir", t.TempDir(),
		"-webhook-cert-secret", cluster.WebhookCertSecret, "-webhook-extra-dns-names", "localhost")...)
	waitFor(t, 60*time.Second, "/readyz to answer 200", func() (bool, error) {
		code, _, err := probe(probes + "/readyz")
		return code == http.StatusOK, err
	})
	if _, body, err := probe(probes + "/readyz?verbose=true"); !strings.Contains(body, "[+]webhook ok") {
		t.Errorf("/readyz?verbose=true does not check the webhook (%v):\n%s", err, body)
	}
	waitFor(t, 30*time.Second, "the webhook to answer", func() (bool, error) {
		err := e.c.Create(context.Background(), pool("probe", "192.0.2.0/32"), client.DryRunAll)
		return err == nil, err
	})

	resume := e.api.Freeze(t)
	waitLog(t, ctrl, 3*outageRenew, "the controller to stop its leader-only work", logAgain, 1)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _, err := probe(probes + path); code != http.StatusOK {
			t.Errorf("%s answered %d (%v) between leader terms, want 200", path, code, err)
		}
	}
	resume()
	waitLog(t, ctrl, 3*outageLease, "the controller to lead again", logElected, 2)
	if err := e.c.Create(context.Background(), pool("probe", "192.0.2.0/32"), client.DryRunAll); err != nil {
		t.Errorf("the webhook does not answer after the outage: %v", err)
	}
}

// probe GETs a probe endpoint and returns its status code and body.
func probe(url string) (int, string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
