package metricsserving

import (
	"crypto/tls"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerOptions(t *testing.T) {
	plain := ServerOptions(Flags{Addr: ":7472"})
	if plain.SecureServing || plain.FilterProvider != nil || plain.BindAddress != ":7472" {
		t.Errorf("insecure: %+v, want plain HTTP on :7472 without a filter", plain)
	}
	sec := ServerOptions(Flags{Addr: ":7474", Secure: true, CertDir: "/certs"})
	if !sec.SecureServing || sec.FilterProvider == nil || sec.BindAddress != ":7474" || sec.CertDir != "/certs" {
		t.Errorf("secure: %+v, want HTTPS on :7474 with the authn/authz filter and /certs", sec)
	}
	var c tls.Config
	for _, o := range sec.TLSOpts {
		o(&c)
	}
	if len(c.NextProtos) != 1 || c.NextProtos[0] != "http/1.1" {
		t.Errorf("secure: ALPN %v, want only http/1.1", c.NextProtos)
	}
}

func TestRegisterDefaultsToSecure(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.Register(fs, ":7472")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if !f.Secure || f.Addr != ":7472" || f.CertDir != "" {
		t.Errorf("defaults %+v, want secure on :7472 with a generated certificate", f)
	}
	if err := fs.Parse([]string{"-metrics-secure=false"}); err != nil || f.Secure {
		t.Errorf("-metrics-secure=false: %+v, %v", f, err)
	}
}

func TestValidate(t *testing.T) {
	full, half := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(full, CertName), filepath.Join(full, KeyName), filepath.Join(half, CertName)} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f    Flags
		want string // "" means valid
	}{
		{Flags{Secure: true}, ""},
		{Flags{Secure: false}, ""},
		{Flags{Secure: true, CertDir: full}, ""},
		{Flags{Secure: true, CertDir: half}, "-metrics-cert-dir"},
		{Flags{Secure: true, CertDir: filepath.Join(full, "nope")}, "-metrics-cert-dir"},
		{Flags{Secure: false, CertDir: full}, "-metrics-secure=false"},
	} {
		err := tc.f.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v, want valid", tc.f, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error naming %s", tc.f, err, tc.want)
		}
	}
}
