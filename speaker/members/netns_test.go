//go:build linux

package members

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Three speakers in three network namespaces on one virtual LAN (needs
// root; the lab fails the test without it). Cutting node1's cable makes the
// two others drop it within the timeout; node1, alone on its side, carries
// on with itself (split brain, as documented); when the cable comes back,
// node1 rejoins and the others never doubt each other.
func TestNetnsLinkCut(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 3})
	var nodes []*liveNode
	peers := map[string]netip.AddrPort{}
	for _, h := range lab.Nodes {
		addr := netip.AddrPortFrom(h.IPv4.Addr(), DefaultPort)
		pc, err := h.ListenPacket("udp4", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		n := newLiveNode(t, h.Name, pc, testSecret, defaultTiming)
		nodes = append(nodes, n)
		peers[h.Name] = addr
	}
	for _, n := range nodes {
		if err := n.m.SetPeers(peers); err != nil {
			t.Fatal(err)
		}
		n.start(t)
	}
	all := names(nodes)
	waitFor(t, 5*time.Second, "all see all", allSee(nodes, all))

	cut, rest := lab.Nodes[0], nodes[1:]
	start := time.Now()
	if err := cut.SetLink(false); err != nil {
		t.Fatal(err)
	}
	// SetLink returns once the kernel reports the carrier gone, which can
	// lag; the clock started before the call.
	waitFor(t, DefaultTimeout+2*time.Second, "node2 and node3 drop node1", allSee(rest, names(rest)))
	t.Logf("cable cut: node2 and node3 dropped node1 after %v", time.Since(start))
	waitFor(t, 5*time.Second, "node1 alone", func() bool { return slices.Equal(nodes[0].m.Alive(), []string{cut.Name}) })

	healStart := time.Now()
	if err := cut.SetLink(true); err != nil {
		t.Fatal(err)
	}
	linkUp := time.Since(healStart)
	waitFor(t, 5*time.Second, "node1 rejoins", allSee(nodes, all))
	t.Logf("cable back: SetLink returned after %v, all agree again after %v", linkUp, time.Since(healStart))
	for _, n := range rest {
		if r := metric(t, n.reg, "ironlb_members_refutations_total"); r != 0 {
			t.Errorf("%s refuted %v times: the healed side must not churn", n.name, r)
		}
	}
	if r := metric(t, nodes[0].reg, "ironlb_members_refutations_total"); r == 0 {
		t.Errorf("node1 rejoined without refuting its death")
	}
}
