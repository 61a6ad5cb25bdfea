package kcluster

import "testing"

// TestOwnedCgroup: Sweep considers only the node cgroups named after a
// lab ("ilb-<pid>-<id>-node<N>") and reads their owner's pid.
func TestOwnedCgroup(t *testing.T) {
	for name, want := range map[string]string{
		"ilb-588-lab-node1":          "588",
		"ilb-4242-3fa9c1-node3":      "4242",
		"ilb-12-lab-node1-x":         "",
		"ilb-x-lab-node1":            "",
		"kubepods":                   "",
		"ilb-588-lab-client1":        "",
		"system.slice":               "",
		"ilb-77-a-b-node12":          "77",
		"xilb-588-lab-node1":         "",
		"ilb-588-lab-node1/kubepods": "",
	} {
		got := ""
		if m := ownedCgroup.FindStringSubmatch(name); m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: owner %q, want %q", name, got, want)
		}
	}
}
