package frr

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestTwoRouters peers the router with a second FRR on a node, which
// originates one prefix per family, and reads everything back through the
// typed helpers: sessions (with TCP-MD5 and BFD), routes and next hops,
// BFD peers, and a change made at runtime.
func TestTwoRouters(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1, Router: true})
	node := lab.Nodes[0]
	v4 := netip.MustParsePrefix("203.0.113.0/24")
	v6 := netip.MustParsePrefix("2001:db8:300::/64")
	tor := New(t, lab.Router, Options{ASN: 64500, GracefulRestart: true, Neighbors: []Neighbor{
		{Address: node.IPv4.Addr(), ASN: 64512, BFD: true, Password: "s3cret"},
		{Address: node.IPv6.Addr(), ASN: 64512},
	}})
	New(t, node, Options{ASN: 64512, Networks: []netip.Prefix{v4, v6}, Neighbors: []Neighbor{
		{Address: lab.Router.IPv4.Addr(), ASN: 64500, BFD: true, Password: "s3cret"},
		{Address: lab.Router.IPv6.Addr(), RemoteAS: "external"},
	}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	nbrs, err := tor.WaitEstablished(ctx, node.IPv4.Addr(), node.IPv6.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if n := nbrs[node.IPv4.Addr()]; n.RemoteAS != 64512 || !slices.Equal(n.Families, []Family{IPv4}) {
		t.Errorf("IPv4 session: %+v", n)
	}
	if n := nbrs[node.IPv6.Addr()]; !slices.Equal(n.Families, []Family{IPv6}) {
		t.Errorf("IPv6 session: %+v", n)
	}

	for _, tc := range []struct {
		prefix netip.Prefix
		nh     netip.Addr
	}{{v4, node.IPv4.Addr()}, {v6, node.IPv6.Addr()}} {
		// FRR lists a path a moment before it has run best-path selection.
		route, err := tor.WaitRoute(ctx, tc.prefix, func(r Route, _ bool) bool { return len(r.NextHops()) > 0 })
		if err != nil {
			t.Fatal(err)
		}
		if got := route.NextHops(); !slices.Equal(got, []netip.Addr{tc.nh}) {
			t.Errorf("%s: next hops %v, want [%s]", tc.prefix, got, tc.nh)
		}
		p := route.Paths[0]
		if p.ASPath != "64512" || !p.Best || p.Peer != tc.nh {
			t.Errorf("%s: path %+v", tc.prefix, p)
		}
		if tc.prefix.Addr().Is6() && !p.LinkLocal.IsLinkLocalUnicast() {
			t.Errorf("%s: no link-local next hop in %+v", tc.prefix, p)
		}
		all, err := tor.Routes(ctx, familyOf(tc.prefix.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := all[tc.prefix]; !ok || len(all) != 1 {
			t.Errorf("Routes(%s) = %v", familyOf(tc.prefix.Addr()), all)
		}
	}
	if _, ok, err := tor.Route(ctx, netip.MustParsePrefix("198.51.100.128/25")); err != nil || ok {
		t.Errorf("absent prefix: ok=%v err=%v", ok, err)
	}

	var bfd map[netip.Addr]BFDPeer
	if err := poll(ctx, "BFD up", func() (bool, error) {
		bfd, err = tor.BFDPeers(ctx)
		return bfd[node.IPv4.Addr()].Up(), err
	}); err != nil {
		t.Fatal(err)
	}
	if b := bfd[node.IPv4.Addr()]; b.ReceiveInterval != 100*time.Millisecond || b.DetectMultiplier != 3 || b.Interface != "eth0" {
		t.Errorf("BFD peer %+v", b)
	}
	if len(bfd) != 1 {
		t.Errorf("BFD peers %v, want only %s", bfd, node.IPv4.Addr())
	}

	// A runtime change: shut the IPv6 session down.
	if err := tor.Configure(ctx, BGPD, "router bgp 64500", "neighbor "+node.IPv6.Addr().String()+" shutdown"); err != nil {
		t.Fatal(err)
	}
	if _, err := tor.WaitRoute(ctx, v6, func(_ Route, ok bool) bool { return !ok }); err != nil {
		t.Fatal(err)
	}
	if err := tor.Configure(ctx, BGPD, "no such command"); err == nil || !strings.Contains(err.Error(), "no such command") {
		t.Errorf("bad configuration line: err = %v", err)
	}
	out, err := tor.Vtysh(ctx, "show running-config")
	if err != nil || !strings.Contains(string(out), "neighbor "+node.IPv6.Addr().String()+" shutdown") {
		t.Errorf("vtysh show running-config: %v\n%s", err, out)
	}
}

// TestCloseRemovesEverything checks that Close stops the daemons and
// removes the directory, and that a second Close is harmless.
func TestCloseRemovesEverything(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1, Router: true})
	r, err := Start(t.Context(), lab.Router, Options{ASN: 64500})
	if err != nil {
		t.Fatal(err)
	}
	procs := r.procs
	if len(procs) != 3 {
		t.Fatalf("%d daemons", len(procs))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		select {
		case <-p.Done():
		default:
			t.Errorf("%s still running", p.Name)
		}
	}
	if _, err := os.Stat(r.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", r.Dir, err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1, Router: true})
	_, err := Start(t.Context(), lab.Router, Options{ASN: 64500, Neighbors: []Neighbor{{Address: lab.Nodes[0].IPv4.Addr()}}})
	if err == nil || !strings.Contains(err.Error(), "Neighbors[0]") {
		t.Fatalf("err = %v", err)
	}
}
