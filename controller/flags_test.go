package main

import (
	"strings"
	"testing"
)

func TestDefaultIdentity(t *testing.T) {
	for _, tc := range []struct{ pod, host, suffix, want string }{
		// In a pod: the pod name, the same for every container restart.
		{"ironlb-controller-7d9f-abcde", "ironlb-controller-7d9f-abcde", "u1", "ironlb-controller-7d9f-abcde"},
		// Outside a pod: unique per process, like controller-runtime's own.
		{"", "lab-host", "u1", "lab-host_u1"},
	} {
		if got := defaultIdentity(tc.pod, tc.host, tc.suffix); got != tc.want {
			t.Errorf("defaultIdentity(%q, %q, %q) = %q, want %q", tc.pod, tc.host, tc.suffix, got, tc.want)
		}
	}
}

func TestIdentityFlag(t *testing.T) {
	t.Setenv("POD_NAME", "pod-a")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "pod-a"},
		{[]string{"-leader-election-identity", "explicit"}, "explicit"},
	} {
		o, err := parseFlags(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if o.leaderIdentity != tc.want {
			t.Errorf("parseFlags(%q): identity %q, want %q", tc.args, o.leaderIdentity, tc.want)
		}
	}
	t.Setenv("POD_NAME", "")
	a, _ := parseFlags(nil)
	b, _ := parseFlags(nil)
	if a.leaderIdentity == b.leaderIdentity {
		t.Errorf("two processes without a pod name share the identity %q", a.leaderIdentity)
	}
}

func TestWebhookExtraDNSNamesFlag(t *testing.T) {
	o, err := parseFlags([]string{"-webhook-extra-dns-names", " localhost, ,webhook.example.org,"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.webhookExtraDNSNames, "|"); got != "localhost|webhook.example.org" {
		t.Errorf("extra DNS names %q, want localhost|webhook.example.org", got)
	}
}

func TestLeaseTimingFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		bad  bool
	}{
		{nil, false},
		{[]string{"-lease-duration", "2s", "-renew-deadline", "1500ms", "-retry-period", "250ms"}, false},
		// No time left for a replica that lost the Lease to stop
		// before another may take it.
		{[]string{"-lease-duration", "2s", "-renew-deadline", "1800ms", "-retry-period", "200ms"}, true},
		// Without leader election the timing does not matter.
		{[]string{"-leader-elect=false", "-lease-duration", "2s", "-renew-deadline", "1800ms", "-retry-period", "200ms"}, false},
	} {
		_, err := parseFlags(tc.args)
		if tc.bad != (err != nil) {
			t.Errorf("parseFlags(%q): error %v, want an error: %v", tc.args, err, tc.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "-lease-duration") {
			t.Errorf("parseFlags(%q): error %q does not name the flag", tc.args, err)
		}
	}
}

func TestPprofFlag(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.pprofAddr != "0" {
		t.Errorf("-pprof-bind-address defaults to %q, want 0 (off)", o.pprofAddr)
	}
	if _, err := parseFlags([]string{"-pprof-bind-address", "0.0.0.0:6060"}); err == nil {
		t.Error("-pprof-bind-address 0.0.0.0:6060 (every address) was accepted")
	}
	if o, err := parseFlags([]string{"-pprof-bind-address", "127.0.0.1:6060"}); err != nil || o.pprofAddr != "127.0.0.1:6060" {
		t.Errorf("-pprof-bind-address 127.0.0.1:6060: %q, %v", o.pprofAddr, err)
	}
}
