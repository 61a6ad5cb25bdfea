package monitoring

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestMetricsNeedAnAuthorizedToken runs the controller and a speaker with
// their default, secure metrics against a real API server and scrapes them
// as three clients: without a token (401), with the token of a
// ServiceAccount that has no role (403), and with the token of one bound to
// the ClusterRole ironlb-metrics-reader (200 and the metrics). The
// controller serves a certificate from -metrics-cert-dir (signed by the
// test's CA and verified here); the speaker its self-signed default. The
// controller's health endpoint stays plain HTTP without a token.
func TestMetricsNeedAnAuthorizedToken(t *testing.T) {
	api := kubeapi.Start(t, kubeapi.Options{})
	certDir := t.TempDir()
	if err := api.WriteServingCert(certDir); err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", cluster.FreePort(t))
	probeAddr := fmt.Sprintf("127.0.0.1:%d", cluster.FreePort(t))
	c := cluster.Start(t, cluster.Options{
		API: api, Nodes: 1,
		ControllerArgs: []string{"-metrics-bind-address", metricsAddr, "-metrics-cert-dir", certDir, "-health-probe-bind-address", probeAddr},
		SpeakerArgs:    []string{"-metrics-bind-address", cluster.SpeakerMetricsAddr},
	})
	reader := serviceAccountToken(t, c, "prometheus", true)
	stranger := serviceAccountToken(t, c, "stranger", false)

	for _, tg := range []struct {
		name  string
		url   string
		host  *vlan.Host
		roots *x509.CertPool // nil: self-signed, not verified
	}{
		{"controller", "https://" + metricsAddr + "/metrics", nil, api.CACertPool()},
		{"speaker", "https://" + cluster.SpeakerMetricsAddr + "/metrics", c.Lab.Nodes[0], nil},
	} {
		t.Run(tg.name, func(t *testing.T) {
			waitServing(t, httpsClient(tg.host, tg.roots, ""), tg.url)
			for _, tc := range []struct {
				who   string
				token string
				want  int
			}{
				{"no token", "", http.StatusUnauthorized},
				{"a ServiceAccount without the role", stranger, http.StatusForbidden},
				{"a ServiceAccount with ironlb-metrics-reader", reader, http.StatusOK},
			} {
				code, body, err := get(httpsClient(tg.host, tg.roots, tc.token), tg.url)
				if err != nil {
					t.Errorf("%s: %v", tc.who, err)
					continue
				}
				if code != tc.want {
					t.Errorf("%s: status %d, want %d (%s)", tc.who, code, tc.want, firstLine(body))
				}
				if got := strings.Contains(body, "ironlb_"); got != (tc.want == http.StatusOK) {
					t.Errorf("%s: metrics in the answer: %v, want %v", tc.who, got, tc.want == http.StatusOK)
				}
			}
			// Plain HTTP on the metrics port gets no metrics either.
			plainURL := "http://" + strings.TrimPrefix(tg.url, "https://")
			plain := &http.Client{}
			if tg.host != nil {
				plain = cluster.NodeHTTPClient(tg.host)
			}
			if code, body, err := get(plain, plainURL); err == nil && (code == http.StatusOK || strings.Contains(body, "ironlb_")) {
				t.Errorf("plain HTTP: status %d with metrics %v", code, strings.Contains(body, "ironlb_"))
			}
		})
	}

	code, body, err := get(&http.Client{}, "http://"+probeAddr+"/healthz")
	if err != nil || code != http.StatusOK {
		t.Errorf("controller /healthz over plain HTTP without a token: %d %q, %v", code, firstLine(body), err)
	}
}

// get returns the status and body of a GET.
func get(cl *http.Client, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
