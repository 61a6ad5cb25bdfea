package bgp

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/frr"
)

// TestAdvertise runs three speakers against FRR, in eBGP and in iBGP, over
// IPv4 and IPv6 sessions, and checks what FRR really holds: ECMP next
// hops, attributes, per-peer selection, aggregates, withdrawals, and that
// none of the changes resets a session.
func TestAdvertise(t *testing.T) {
	for _, tc := range []struct {
		name string
		ibgp bool
	}{{"eBGP", false}, {"iBGP", true}} {
		t.Run(tc.name, func(t *testing.T) {
			testAdvertise(t, tc.ibgp)
		})
	}
}

func testAdvertise(t *testing.T, ibgp bool) {
	b := newBGPLab(t, labSpec{nodes: 3, ibgp: ibgp})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	vip4, vip6 := mustPrefix("203.0.113.10/32"), mustPrefix("2001:db8:300::10/128")
	agg4, agg6 := mustPrefix("203.0.113.0/24"), mustPrefix("2001:db8:300::/64")
	only4 := mustPrefix("203.0.113.21/32")    // for tor-v4 only
	nobody := mustPrefix("203.0.113.22/32")   // for a peer this node does not have
	wrongFam := mustPrefix("203.0.113.23/32") // for tor-v6 only: an IPv6 session carries no IPv4 route
	comm := []uint32{community(64500, 100), community(65535, 65281)}
	large := [][3]uint32{{64500, 1, 2}}
	routes := []Route{
		{Prefix: vip4, LocalPref: u32(250), Communities: comm, LargeCommunities: large},
		{Prefix: vip6, LocalPref: u32(250), Communities: comm, LargeCommunities: large},
		{Prefix: agg4},
		{Prefix: agg6},
		{Prefix: only4, Peers: []string{torV4}},
		{Prefix: nobody, Peers: []string{"other-router"}},
		{Prefix: wrongFam, Peers: []string{torV6}},
	}
	// node3 learns the router's AS from its OPEN (DynamicASN).
	dynamic := b.peers(func(p *Peer) {
		p.PeerASN, p.DynamicASN = 0, DynamicASNExternal
		if ibgp {
			p.DynamicASN = DynamicASNInternal
		}
	})
	for i, s := range b.speakers {
		peers := b.peers(nil)
		if i == 2 {
			peers = dynamic
		}
		s.Start(StartArgs{Options: b.options(i), Peers: peers, Routes: routes, SetRoutes: true})
	}
	b.waitEstablished(ctx)

	all4, all6 := b.nodeAddrs(true), b.nodeAddrs(false)
	for _, p := range []struct {
		prefix netip.Prefix
		want   []netip.Addr
	}{{vip4, all4}, {vip6, all6}, {agg4, all4}, {agg6, all6}, {only4, all4}} {
		b.waitNextHops(ctx, p.prefix, p.want)
	}
	// The speakers set routes before their sessions came up, so FRR has
	// everything it will get once the sessions are up and EoR is in.
	for _, p := range []netip.Prefix{nobody, wrongFam} {
		if r, ok, err := b.tor.Route(ctx, p); err != nil || ok {
			t.Errorf("%s must not be announced: present=%v err=%v %+v", p, ok, err, r)
		}
	}

	// Attributes, on every path of both families.
	wantComm := []string{"64500:100", "no-export"}
	for _, p := range []netip.Prefix{vip4, vip6} {
		r, _, err := b.tor.Route(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Paths) != 3 {
			t.Errorf("%s: %d paths, want 3: %+v", p, len(r.Paths), r.Paths)
		}
		for _, path := range r.Paths {
			if !slices.Equal(path.Communities, wantComm) || !slices.Equal(path.LargeCommunities, []string{"64500:1:2"}) {
				t.Errorf("%s via %s: communities %v large %v, want %v and [64500:1:2]", p, path.NextHop, path.Communities, path.LargeCommunities, wantComm)
			}
			if ibgp {
				if !path.HasLocalPref || path.LocalPref != 250 || path.ASPath != "" {
					t.Errorf("%s via %s (iBGP): local-pref %v/%d, AS path %q; want 250 and empty", p, path.NextHop, path.HasLocalPref, path.LocalPref, path.ASPath)
				}
			} else {
				if path.LocalPref == 250 || path.ASPath != "64512" {
					t.Errorf("%s via %s (eBGP): local-pref %d (must not be sent), AS path %q want 64512", p, path.NextHop, path.LocalPref, path.ASPath)
				}
			}
		}
	}

	// Status and metrics of node1.
	for _, st := range b.speakers[0].Status() {
		wantPfx := map[string]int{torV4: 3, torV6: 2}[st.Name]
		if st.State != StateEstablished || st.PrefixesAdvertised != wantPfx || st.Uptime <= 0 || st.LastError != "" || st.BFD != "" {
			t.Errorf("status %+v, want Established with %d prefixes, an uptime, no error, no BFD", st, wantPfx)
		}
	}
	metrics := b.speakers[0].Metrics()
	for _, want := range []string{
		`ironlb_bgp_session_up{peer="tor-v4"} 1`, `ironlb_bgp_session_up{peer="tor-v6"} 1`,
		`ironlb_bgp_prefixes_advertised{peer="tor-v4"} 3`, `ironlb_bgp_prefixes_advertised{peer="tor-v6"} 2`,
		`ironlb_bgp_updates_sent_total{peer="tor-v4"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if strings.Contains(metrics, "ironlb_bgp_bfd_up") {
		t.Errorf("BFD metric without BFD:\n%s", metrics)
	}

	before := b.waitEstablished(ctx)
	// Make session uptimes visibly grow (FRR counts whole seconds).
	time.Sleep(1100 * time.Millisecond)

	// node1 stops announcing the /32: only its next hop goes.
	without := slices.DeleteFunc(slices.Clone(routes), func(r Route) bool { return r.Prefix == vip4 })
	b.speakers[0].MustSetRoutes(without)
	b.waitNextHops(ctx, vip4, b.nodeAddrs(true, 1, 2))

	// node2 changes the /32's communities: its path changes in place.
	changed := slices.Clone(routes)
	changed[0].Communities = []uint32{community(64500, 200)}
	b.speakers[1].MustSetRoutes(changed)
	if _, err := b.tor.WaitRoute(ctx, vip4, func(r frr.Route, _ bool) bool {
		p, ok := r.PathVia(addrOf(b.lab.Nodes[1], true))
		return ok && slices.Equal(p.Communities, []string{"64500:200"})
	}); err != nil {
		t.Fatal(err)
	}

	// Everyone adds a route and drops the aggregates.
	vip4b, vip6b := mustPrefix("203.0.113.30/32"), mustPrefix("2001:db8:300::30/128")
	next := append(slices.DeleteFunc(slices.Clone(routes), func(r Route) bool { return r.Prefix == agg4 || r.Prefix == agg6 }),
		Route{Prefix: vip4b}, Route{Prefix: vip6b})
	for _, s := range b.speakers {
		s.MustSetRoutes(next)
	}
	b.waitNextHops(ctx, vip4b, all4)
	b.waitNextHops(ctx, vip6b, all6)
	b.waitNextHops(ctx, agg4, nil)
	b.waitNextHops(ctx, agg6, nil)
	b.waitNextHops(ctx, vip4, all4) // node1 announces it again

	// No change reset a session: uptimes kept counting.
	after, err := b.tor.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for a, was := range before {
		now := after[a]
		if !now.Established() || now.Uptime <= was.Uptime || now.ConnectionsEstablished != was.ConnectionsEstablished || now.ConnectionsDropped != was.ConnectionsDropped {
			t.Errorf("session %s was reset: before %+v, after %+v", a, was, now)
		}
	}

	// Withdrawing everything empties FRR.
	for _, s := range b.speakers {
		s.MustSetRoutes(nil)
	}
	for _, f := range []frr.Family{frr.IPv4, frr.IPv6} {
		if _, err := b.tor.WaitRoutes(ctx, f, func(m map[netip.Prefix]frr.Route) bool { return len(m) == 0 }); err != nil {
			t.Fatal(err)
		}
	}
}
