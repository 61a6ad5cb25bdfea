package kubeapi

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Client-side rate limits for every config the harness hands out: high
// enough that a test creating 5,000 Services at 100/s is never throttled by
// its own client.
const (
	clientQPS   = 1000
	clientBurst = 2000
)

// ServiceAccountIdentity returns the user name and groups that the API server
// gives a token of ServiceAccount namespace/name. Pass them to KubeconfigFor
// or ConfigFor to act as that ServiceAccount: RBAC bindings to it apply.
func ServiceAccountIdentity(namespace, name string) (user string, groups []string) {
	return "system:serviceaccount:" + namespace + ":" + name,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}
}

// ConfigFor returns a rest.Config that authenticates as user with groups,
// using a client certificate signed by the server's CA. The API server adds
// system:authenticated itself; RBAC decides what the identity may do.
func (s *Server) ConfigFor(user string, groups ...string) (*rest.Config, error) {
	kp, err := s.ca.clientCert(user, groups)
	if err != nil {
		return nil, err
	}
	return s.restConfig(kp), nil
}

// KubeconfigFor writes a kubeconfig file for user with groups into the
// server's directory and returns its path (for processes such as the
// controller under test, or kubectl). See ConfigFor and
// ServiceAccountIdentity.
func (s *Server) KubeconfigFor(user string, groups ...string) (string, error) {
	kp, err := s.ca.clientCert(user, groups)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("kubeconfig-%03d-%s.yaml", s.mintSeq.Add(1), fileSafe(user))
	return s.writeKubeconfig(name, user, kp)
}

// Clientset returns a typed client with admin credentials.
func (s *Server) Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		t.Fatalf("kubeapi: clientset: %v", err)
	}
	return cs
}

// Client returns a controller-runtime client with admin credentials. A nil
// scheme means client-go's scheme (the built-in types only).
func (s *Server) Client(t testing.TB, scheme *runtime.Scheme) client.Client {
	t.Helper()
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	c, err := client.New(s.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("kubeapi: controller-runtime client: %v", err)
	}
	return c
}

func (s *Server) restConfig(kp keyPair) *rest.Config {
	return &rest.Config{
		Host: s.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   s.ca.certPEM,
			CertData: kp.certPEM,
			KeyData:  kp.keyPEM,
		},
		QPS:   clientQPS,
		Burst: clientBurst,
	}
}

// writeKubeconfig writes a self-contained kubeconfig (certificates inline).
func (s *Server) writeKubeconfig(name, user string, kp keyPair) (string, error) {
	const ctxName = "ironlb-test"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ctxName] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthorityData: s.ca.certPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.certPEM, ClientKeyData: kp.keyPEM}
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: ctxName, AuthInfo: user}
	cfg.CurrentContext = ctxName
	path := filepath.Join(s.Dir, name)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return path, nil
}

// fileSafe maps a user name such as system:serviceaccount:ns:name to
// something usable in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		default:
			return '_'
		}
	}, s)
}

// WriteServingCert writes tls.crt and tls.key into dir: a serving
// certificate for localhost, 127.0.0.1 and ::1 signed by the server's CA,
// for processes under test that serve TLS. CACertPool verifies it.
func (s *Server) WriteServingCert(dir string) error {
	kp, err := s.ca.servingCert()
	if err != nil {
		return err
	}
	return writeFiles(dir, map[string][]byte{"tls.crt": kp.certPEM, "tls.key": kp.keyPEM})
}

// CACertPool trusts the server's CA: the API server's certificate and those
// of WriteServingCert.
func (s *Server) CACertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca.cert)
	return p
}
