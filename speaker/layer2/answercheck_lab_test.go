package layer2

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// A host that takes an address we announce without ever saying so (no
// gratuitous ARP, no DAD: `ip addr add ... nodad`) still answers the
// clients that ask, unicast, so the announcer never sees those replies.
// The answer check (a probe while announced) makes it answer us too, and
// the address goes into conflict; once the host lets go, the retry
// announces it again.
func TestLabAnswerCheckFindsSilentHost(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 2, Clients: 1})
	n1 := startNode(t, lab.Nodes[0], Options{AnswerCheckInterval: 200 * time.Millisecond, ConflictRetryInterval: 300 * time.Millisecond})
	setClaims(t, n1, claims(false, "eth0", labVIP4, labVIP6))
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		waitPhase(t, n1, ip, "eth0", PhaseAnnounced)
	}
	rogue := lab.Nodes[1]
	ctx := context.Background()
	taken := time.Now()
	for _, args := range [][]string{
		{"addr", "add", labVIP4.String() + "/32", "dev", "eth0"},
		{"-6", "addr", "add", labVIP6.String() + "/128", "dev", "eth0", "nodad"},
	} {
		if out, err := rogue.Exec(ctx, "ip", args...); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	got := map[netip.Addr]bool{}
	for len(got) < 2 {
		select {
		case c := <-n1.a.Conflicts():
			if c.Cleared || c.MAC.String() != rogue.MAC.String() {
				t.Fatalf("event %+v, want a conflict with %s", c, rogue.MAC)
			}
			got[c.IP] = true
		case <-time.After(labTimeout):
			t.Fatalf("conflicts found: %v, want both addresses", got)
		}
	}
	t.Logf("silent host found %v after it took the addresses", time.Since(taken).Round(time.Millisecond))

	for _, args := range [][]string{
		{"addr", "del", labVIP4.String() + "/32", "dev", "eth0"},
		{"-6", "addr", "del", labVIP6.String() + "/128", "dev", "eth0"},
	} {
		if out, err := rogue.Exec(ctx, "ip", args...); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		waitPhase(t, n1, ip, "eth0", PhaseAnnounced)
	}
}
