package bgp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/frr"
)

// TestUpdateRoutes runs two speakers against FRR and changes some
// prefixes with UpdateRoutes: the changed, added and removed prefixes
// reach FRR, an aggregate two routes build keeps the merged attributes of
// those left, every other prefix stays as it was, and no session resets.
func TestUpdateRoutes(t *testing.T) {
	b := newBGPLab(t, labSpec{nodes: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	vip4, vip6, other := mustPrefix("203.0.113.10/32"), mustPrefix("2001:db8:300::10/128"), mustPrefix("203.0.113.11/32")
	agg := mustPrefix("203.0.113.0/24")
	routes := []Route{
		{Prefix: vip4, Communities: []uint32{community(64500, 1)}},
		{Prefix: vip6},
		{Prefix: other},
		// Two IPs of one aggregate, with different communities.
		{Prefix: agg, Communities: []uint32{community(64500, 7)}},
		{Prefix: agg, Communities: []uint32{community(64500, 8)}},
	}
	b.startSpeakers(b.peers(nil), routes)
	before := b.waitEstablished(ctx)
	all4 := b.nodeAddrs(true)
	for _, p := range []netip.Prefix{vip4, other, agg} {
		b.waitNextHops(ctx, p, all4)
	}
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
	node1 := addrOf(b.lab.Nodes[0], true)
	communities := func(p netip.Prefix, want ...string) {
		t.Helper()
		if _, err := b.tor.WaitRoute(ctx, p, func(r frr.Route, _ bool) bool {
			path, ok := r.PathVia(node1)
			return ok && slices.Equal(path.Communities, want)
		}); err != nil {
			t.Fatalf("%s via node1: communities %v never came: %v", p, want, err)
		}
	}
	communities(agg, "64500:7", "64500:8")

	// node1: vip4's communities change, a new /32 comes, vip6 goes, one
	// of the aggregate's two routes goes.
	added := mustPrefix("203.0.113.20/32")
	b.speakers[0].MustUpdateRoutes([]netip.Prefix{vip4, added, vip6, agg}, []Route{
		{Prefix: vip4, Communities: []uint32{community(64500, 2)}},
		{Prefix: added},
		{Prefix: agg, Communities: []uint32{community(64500, 8)}},
	})
	communities(vip4, "64500:2")
	communities(agg, "64500:8")
	b.waitNextHops(ctx, added, b.nodeAddrs(true, 0))
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false, 1))
	// The prefixes left out of the update keep both next hops.
	for _, p := range []netip.Prefix{other, agg} {
		b.waitNextHops(ctx, p, all4)
	}

	// A route outside the prefixes named is refused, and nothing of it
	// reaches FRR; the rest of the update is applied.
	stray := mustPrefix("203.0.113.30/32")
	if err := b.speakers[0].call("UpdateRoutes", UpdateArgs{Prefixes: []netip.Prefix{added}, Routes: []Route{{Prefix: stray}}}, &struct{}{}); err == nil {
		t.Error("a route outside the prefixes named was accepted")
	}
	b.waitNextHops(ctx, added, nil) // withdrawn: no route of it was given
	if r, ok, err := b.tor.Route(ctx, stray); err != nil || ok {
		t.Errorf("%s must not be announced: present=%v err=%v %+v", stray, ok, err, r)
	}

	after, err := b.tor.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for a, was := range before {
		now := after[a]
		if !now.Established() || now.ConnectionsEstablished != was.ConnectionsEstablished || now.ConnectionsDropped != was.ConnectionsDropped {
			t.Errorf("session %s was reset: before %+v, after %+v", a, was, now)
		}
	}
}
