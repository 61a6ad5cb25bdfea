// Package metricsserving decides how the controller and the speaker serve
// /metrics: by default over HTTPS, and only to clients whose bearer token
// the API server authenticates (TokenReview) and whose identity may get the
// non-resource URL /metrics (SubjectAccessReview), with controller-runtime's
// metrics server and its authentication/authorization filter. A flag turns
// this off for plain HTTP. Health and readiness endpoints are not served
// here and stay plain HTTP.
package metricsserving

// The filter asks the API server about every scraper's token:
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Certificate file names in Flags.CertDir (as in a kubernetes.io/tls Secret).
const (
	CertName = "tls.crt"
	KeyName  = "tls.key"
)

// Flags are a component's metrics flags.
type Flags struct {
	Addr    string // "0" disables the endpoint
	Secure  bool
	CertDir string // "": a self-signed certificate generated in memory
}

// Register adds -metrics-bind-address, -metrics-secure and -metrics-cert-dir.
func (f *Flags) Register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&f.Addr, "metrics-bind-address", defaultAddr, "address of the Prometheus endpoint; 0 disables it")
	fs.BoolVar(&f.Secure, "metrics-secure", true, "serve metrics over HTTPS, only to clients whose bearer token the API server authenticates and authorizes for GET /metrics (needs RBAC to create tokenreviews and subjectaccessreviews); false: plain HTTP to anyone")
	fs.StringVar(&f.CertDir, "metrics-cert-dir", "", "directory holding "+CertName+" and "+KeyName+" for the HTTPS metrics endpoint (reloaded when they change); empty: a self-signed certificate generated at start")
}

// Validate checks the flags against the file system: a certificate
// directory given must hold both files, rather than controller-runtime
// falling back to a self-signed certificate without a word.
func (f Flags) Validate() error {
	if f.CertDir == "" {
		return nil
	}
	if !f.Secure {
		return errors.New("flag -metrics-cert-dir is set but -metrics-secure=false serves plain HTTP")
	}
	for _, name := range []string{CertName, KeyName} {
		if _, err := os.Stat(filepath.Join(f.CertDir, name)); err != nil {
			return fmt.Errorf("flag -metrics-cert-dir: %w", err)
		}
	}
	return nil
}

// ServerOptions are the manager's metrics server options for the flags.
func ServerOptions(f Flags) metricsserver.Options {
	if !f.Secure {
		return metricsserver.Options{BindAddress: f.Addr}
	}
	return metricsserver.Options{
		BindAddress:    f.Addr,
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
		CertDir:        f.CertDir,
		CertName:       CertName,
		KeyName:        KeyName,
		// HTTP/1.1 only: HTTP/2's stream handling has had denial-of-service
		// bugs (CVE-2023-44487, CVE-2023-39325) and a scraper gains nothing
		// from it.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
}
