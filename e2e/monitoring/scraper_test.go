package monitoring

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// scraperNamespace holds the ServiceAccounts that scrape in these tests.
const scraperNamespace = "monitoring"

// serviceAccountToken creates ServiceAccount scraperNamespace/name and
// returns a token the API server issued for it (TokenRequest), the kind
// Prometheus sends from its pod. With reader, the account is bound to the
// ClusterRole of manifests/rbac/metrics-reader, as the chart binds it.
func serviceAccountToken(t *testing.T, c *cluster.Cluster, name string, reader bool) string {
	t.Helper()
	ctx := context.Background()
	cs := c.API.Clientset(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scraperNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: scraperNamespace, Name: name}}
	if _, err := cs.CoreV1().ServiceAccounts(scraperNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if reader {
		path := filepath.Join(repoRoot(t), "manifests", "rbac", "metrics-reader", "role.yaml")
		subject := rbacv1.Subject{Kind: "ServiceAccount", Namespace: scraperNamespace, Name: name}
		if err := cluster.ApplyRoles(ctx, c.Client, path, subject); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := cs.CoreV1().ServiceAccounts(scraperNamespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", scraperNamespace, name, err)
	}
	return tr.Status.Token
}

// httpsClient scrapes over TLS, sending token as a bearer token when it is
// not empty, dialing inside host when host is not nil. A nil roots accepts
// any certificate (the programs' self-signed default).
func httpsClient(host *vlan.Host, roots *x509.CertPool, token string) *http.Client {
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil},
	}
	if host != nil {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return host.DialContext(ctx, network, addr)
		}
	}
	var rt http.RoundTripper = tr
	if token != "" {
		rt = bearer{token: token, next: tr}
	}
	return &http.Client{Transport: rt}
}

// waitServing waits until url answers at all: with HTTPS the programs
// generate their certificate before they listen, which takes a moment
// after they have started reconciling.
func waitServing(t *testing.T, cl *http.Client, url string) {
	t.Helper()
	cluster.Eventually(t, 30*time.Second, url+" serving", func() error {
		_, _, err := get(cl, url)
		return err
	})
}

// bearer adds an Authorization header, as Prometheus's bearer_token_file.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
