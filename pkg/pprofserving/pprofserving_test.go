package pprofserving

import (
	"flag"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"", true},
		{"0", true},
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"localhost:6060", true},
		{":6060", false}, // every address of the host
		{"0.0.0.0:6060", false},
		{"[::]:6060", false},
		{"192.0.2.1:6060", false},
		{"[2001:db8::1]:6060", false},
		{"127.0.0.1", false}, // no port
		{"example.com:6060", false},
	} {
		err := Check(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestRegisterDefaultsOff(t *testing.T) {
	var addr string
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	Register(fs, &addr)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if addr != "0" {
		t.Errorf("-pprof-bind-address defaults to %q, want 0 (off)", addr)
	}
}
