package kubeapi

import (
	"fmt"
	"testing"
)

func TestKubernetesServiceIPs(t *testing.T) {
	for _, tc := range []struct {
		cidrs, want, err string
	}{
		{cidrs: DefaultServiceCIDRs, want: "[2001:db8:ffff::1 192.0.2.129]"},
		{cidrs: "192.0.2.130/25", want: "[192.0.2.129]"},
		{cidrs: "192.0.2.128/25,nonsense", err: `service range "nonsense"`},
	} {
		got, err := kubernetesServiceIPs(tc.cidrs)
		if tc.err != "" {
			if err == nil || len(err.Error()) < len(tc.err) || err.Error()[:len(tc.err)] != tc.err {
				t.Errorf("kubernetesServiceIPs(%q): error %v, want one starting %q", tc.cidrs, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("kubernetesServiceIPs(%q) = %v, %v; want %s", tc.cidrs, got, err, tc.want)
		}
	}
}

func TestAPIServerArgsOverride(t *testing.T) {
	args := apiserverArgs("/pki", "http://127.0.0.1:1", 6443, DefaultServiceCIDRs, DefaultNodePortRange,
		[]string{"--authorization-mode=Node,RBAC", "--disable-admission-plugins=", "--v=3"})
	count := map[string]int{}
	for _, a := range args {
		count[flagName(a)]++
	}
	for _, f := range []string{"--authorization-mode", "--disable-admission-plugins", "--v"} {
		if count[f] != 1 {
			t.Errorf("%s appears %d times in %q, want once (the extra one)", f, count[f], args)
		}
	}
	if last := args[len(args)-3:]; last[0] != "--authorization-mode=Node,RBAC" || last[1] != "--disable-admission-plugins=" {
		t.Errorf("extra flags not at the end: %q", last)
	}
	if count["--etcd-servers"] != 1 {
		t.Errorf("defaults without an override were dropped: %q", args)
	}
}
