//go:build vmguest

package vm

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ironlb/ironlb/e2e/vm/guest"
)

// failOnPurpose lets the host check that a failing guest test fails the run.
var failOnPurpose = flag.Bool("vm.fail-on-purpose", false, "make TestGuestFailOnPurpose fail")

// TestGuestSmoke checks what every guest test relies on: the modules are
// loaded, IPVS answers, and dummy interfaces (absent on the host) work.
func TestGuestSmoke(t *testing.T) {
	guest.Require(t)
	mods, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ip_vs", "ip_vs_mh", "nf_tables", "nft_masq", "veth", "dummy", "bridge"} {
		if !strings.Contains(string(mods), m+" ") {
			t.Errorf("module %s is not loaded", m)
		}
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Errorf("IPVS is missing: %v", err)
	}
	d := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "smoke0"}}
	if err := netlink.LinkAdd(d); err != nil {
		t.Fatalf("add dummy: %v", err)
	}
	if err := netlink.LinkDel(d); err != nil {
		t.Fatalf("delete dummy: %v", err)
	}
}

func TestGuestFailOnPurpose(t *testing.T) {
	guest.Require(t)
	if *failOnPurpose {
		t.Fatal("failing on purpose")
	}
}
