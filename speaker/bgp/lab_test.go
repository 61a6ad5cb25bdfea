package bgp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// BFD timers of the lab, on both ends: 600 ms to detect a failure. Faster
// timers (100 ms x 3) flapped on a loaded 2-core machine, where a process
// can be off the CPU for more than 300 ms.
const (
	bfdInterval   = 200 * time.Millisecond
	bfdMultiplier = 3
)

const (
	torASN  = 64500
	nodeASN = 64512
	// Peer names of a node's two sessions with the router.
	torV4 = "tor-v4"
	torV6 = "tor-v6"
)

// bgpLab is a virtual LAN with FRR on the router and a speaker helper on
// every node.
type bgpLab struct {
	t        testing.TB
	lab      *vlan.Lab
	tor      *frr.Router
	speakers []*nodeSpeaker
	spec     labSpec
}

// labSpec says how the router sees the nodes.
type labSpec struct {
	nodes int
	// ibgp puts the nodes in the router's AS.
	ibgp bool
	// bfd and password apply to the router's neighbors; gracefulRestart
	// turns on "bgp graceful-restart".
	bfd             bool
	password        string
	gracefulRestart bool
}

func (s labSpec) nodeASN() uint32 {
	if s.ibgp {
		return torASN
	}
	return nodeASN
}

// newBGPLab builds the lab and starts FRR and the helpers (no speaker
// runs yet: see startSpeakers).
func newBGPLab(t testing.TB, spec labSpec) *bgpLab {
	t.Helper()
	lab := vlan.New(t, vlan.Options{Nodes: spec.nodes, Router: true})
	var nbrs []frr.Neighbor
	for _, n := range lab.Nodes {
		for _, a := range []netip.Addr{n.IPv4.Addr(), n.IPv6.Addr()} {
			nbrs = append(nbrs, frr.Neighbor{Address: a, ASN: spec.nodeASN(), Password: spec.password, BFD: spec.bfd})
		}
	}
	tor := frr.New(t, lab.Router, frr.Options{
		ASN: torASN, Neighbors: nbrs, GracefulRestart: spec.gracefulRestart, Debug: true,
		BFD: frr.BFDTimers{ReceiveInterval: bfdInterval, TransmitInterval: bfdInterval, DetectMultiplier: bfdMultiplier},
	})
	b := &bgpLab{t: t, lab: lab, tor: tor, spec: spec}
	for _, n := range lab.Nodes {
		b.speakers = append(b.speakers, startNodeSpeaker(t, n))
	}
	return b
}

// peers returns a node's two sessions with the router, changed by mod.
func (b *bgpLab) peers(mod func(*Peer)) []Peer {
	var out []Peer
	for _, p := range []Peer{
		{Name: torV4, Address: b.lab.Router.IPv4.Addr()},
		{Name: torV6, Address: b.lab.Router.IPv6.Addr()},
	} {
		p.MyASN, p.PeerASN = b.spec.nodeASN(), torASN
		p.HoldTime = 90 * time.Second
		p.ConnectTime = 2 * time.Second
		p.Password = b.spec.password
		if mod != nil {
			mod(&p)
		}
		out = append(out, p)
	}
	return out
}

// options are a node's speaker options.
func (b *bgpLab) options(i int) HelperOptions {
	return HelperOptions{RouterID: b.lab.Nodes[i].IPv4.Addr()}
}

// startSpeakers starts a speaker on every node with the same peers and
// routes.
func (b *bgpLab) startSpeakers(peers []Peer, routes []Route) {
	b.t.Helper()
	for i, s := range b.speakers {
		s.Start(StartArgs{Options: b.options(i), Peers: peers, Routes: routes, SetRoutes: true})
	}
}

// nodeAddrs returns the nodes' addresses of a family, sorted, for the
// nodes listed (all when none).
func (b *bgpLab) nodeAddrs(v4 bool, nodes ...int) []netip.Addr {
	if len(nodes) == 0 {
		for i := range b.lab.Nodes {
			nodes = append(nodes, i)
		}
	}
	var out []netip.Addr
	for _, i := range nodes {
		out = append(out, addrOf(b.lab.Nodes[i], v4))
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// allNeighbors lists every node address the router peers with.
func (b *bgpLab) allNeighbors() []netip.Addr {
	return append(b.nodeAddrs(true), b.nodeAddrs(false)...)
}

// waitEstablished waits until the router has every session up.
func (b *bgpLab) waitEstablished(ctx context.Context) map[netip.Addr]frr.NeighborStatus {
	b.t.Helper()
	n, err := b.tor.WaitEstablished(ctx, b.allNeighbors()...)
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// waitNextHops waits until FRR forwards prefix to exactly want (nothing
// when want is empty) and returns the route.
func (b *bgpLab) waitNextHops(ctx context.Context, prefix netip.Prefix, want []netip.Addr) frr.Route {
	b.t.Helper()
	r, err := b.tor.WaitRoute(ctx, prefix, func(r frr.Route, ok bool) bool {
		if len(want) == 0 {
			return !ok
		}
		return slices.Equal(r.NextHops(), want)
	})
	if err != nil {
		b.t.Fatalf("%s: want next hops %v: %v", prefix, want, err)
	}
	return r
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func u32(v uint32) *uint32 { return &v }

// community builds a standard community "as:value".
func community(as, value uint16) uint32 { return uint32(as)<<16 | uint32(value) }
