package bgp

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestPeerTables(t *testing.T) {
	v4a := Peer{Name: "a", Address: netip.MustParseAddr("192.0.2.1")}
	v4b := Peer{Name: "b", Address: netip.MustParseAddr("192.0.2.2")}
	v6 := Peer{Name: "c", Address: netip.MustParseAddr("2001:db8::1")}
	p1, p2, p6 := mustPrefix("203.0.113.1/32"), mustPrefix("203.0.113.0/24"), mustPrefix("2001:db8:300::1/128")
	tables := peerTables([]Peer{v4a, v4b, v6}, []Route{
		{Prefix: p1, Communities: []uint32{3, 1}, LocalPref: u32(100)},
		{Prefix: p1, Peers: []string{"b"}, Communities: []uint32{2, 1}, LocalPref: u32(300), LargeCommunities: [][3]uint32{{1, 2, 3}}},
		{Prefix: p1, Peers: []string{"b"}, LocalPref: u32(200), LargeCommunities: [][3]uint32{{1, 2, 3}, {0, 9, 9}}},
		{Prefix: p2, Peers: []string{"a", "nobody"}},
		{Prefix: p2, Peers: []string{"nobody"}},
		{Prefix: p6},
	})
	want := map[string]table{
		"a": {p1: {localPref: 100, hasLocalPref: true, communities: []uint32{1, 3}}, p2: {}},
		"b": {p1: {localPref: 300, hasLocalPref: true, communities: []uint32{1, 2, 3}, large: [][3]uint32{{0, 9, 9}, {1, 2, 3}}}},
		"c": {p6: {}},
	}
	if len(tables) != len(want) {
		t.Fatalf("tables for %d peers, want %d", len(tables), len(want))
	}
	for name, w := range want {
		got := tables[name]
		if len(got) != len(w) {
			t.Errorf("%s: %v, want %v", name, got, w)
			continue
		}
		for p, a := range w {
			if !got[p].equal(a) {
				t.Errorf("%s %s: %+v, want %+v", name, p, got[p], a)
			}
		}
	}
}

func TestDiffTables(t *testing.T) {
	p1, p2, p3 := mustPrefix("203.0.113.1/32"), mustPrefix("203.0.113.2/32"), mustPrefix("203.0.113.3/32")
	have := table{p1: {}, p2: {communities: []uint32{1}}, p3: {}}
	want := table{p2: {communities: []uint32{2}}, p3: {}, mustPrefix("203.0.113.0/24"): {}}
	announce, withdraw := diffTables(have, want)
	if !slices.Equal(announce, []netip.Prefix{mustPrefix("203.0.113.0/24"), p2}) {
		t.Errorf("announce %v", announce)
	}
	if !slices.Equal(withdraw, []netip.Prefix{p1}) {
		t.Errorf("withdraw %v", withdraw)
	}
	if a, w := diffTables(want, want); len(a)+len(w) != 0 {
		t.Errorf("no change: %v %v", a, w)
	}
}

func TestDiffPrefixes(t *testing.T) {
	p1, p2, p3, p4 := mustPrefix("203.0.113.1/32"), mustPrefix("203.0.113.2/32"), mustPrefix("203.0.113.3/32"), mustPrefix("203.0.113.4/32")
	agg := mustPrefix("203.0.113.0/24")
	have := table{p1: {}, p2: {communities: []uint32{1}}, p3: {}, p4: {}}
	want := table{p2: {communities: []uint32{2}}, p3: {}, agg: {}}
	// p4 would be withdrawn by diffTables, but it is not among the
	// prefixes compared; p3 is, unchanged.
	announce, withdraw := diffPrefixes(have, want, []netip.Prefix{p1, p2, p3, agg, p2})
	if !slices.Equal(announce, []netip.Prefix{agg, p2}) {
		t.Errorf("announce %v", announce)
	}
	if !slices.Equal(withdraw, []netip.Prefix{p1}) {
		t.Errorf("withdraw %v", withdraw)
	}
}

func TestClassifyPeerChange(t *testing.T) {
	base := validPeer()
	base.BFD = &BFDProfile{ReceiveInterval: time.Second}
	tests := []struct {
		name string
		mod  func(*Peer)
		want peerChange
	}{
		{"same", func(*Peer) {}, peerUnchanged},
		{"equal BFD copy", func(p *Peer) { b := *p.BFD; p.BFD = &b }, peerUnchanged},
		{"BFD timers", func(p *Peer) { p.BFD = &BFDProfile{ReceiveInterval: 2 * time.Second} }, peerUpdateBFD},
		{"BFD removed", func(p *Peer) { p.BFD = nil }, peerUpdateBFD},
		{"password", func(p *Peer) { p.Password = "x" }, peerRecreate},
		{"peer AS", func(p *Peer) { p.PeerASN = 1 }, peerRecreate},
		{"hold time", func(p *Peer) { p.HoldTime = time.Minute }, peerRecreate},
		{"address", func(p *Peer) { p.Address = netip.MustParseAddr("192.0.2.9") }, peerRecreate},
		{"graceful restart", func(p *Peer) { p.GracefulRestart = true }, peerRecreate},
		{"password and BFD", func(p *Peer) { p.Password, p.BFD = "x", nil }, peerRecreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.mod(&p)
			if got := classifyPeerChange(base, p); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestQueuedBFDReset(t *testing.T) {
	now := time.Now()
	settled, fresh := now.Add(-bfdResetSettle), now.Add(-bfdResetSettle/2)
	tests := []struct {
		name                        string
		downs, resetsSent, replaced int
		last                        time.Time
		want                        bool
	}{
		{"never down", 0, 0, 0, time.Time{}, false},
		{"down, reset sent on the session", 1, 1, 0, settled, false},
		{"down, reset found no session", 1, 0, 0, settled, true},
		{"down, reset not seen yet", 1, 0, 0, fresh, false},
		{"down again after a sent reset", 2, 1, 0, settled, true},
		{"replaced since", 1, 0, 1, settled, false},
		{"down after the replacement", 2, 0, 1, settled, true},
		{"sent after the replacement", 2, 2, 1, settled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := queuedBFDReset(tc.downs, tc.resetsSent, tc.replaced, tc.last, now); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGateDecision(t *testing.T) {
	now := time.Now()
	closed := gate{closed: true, waitSince: now.Add(-time.Second)}
	tests := []struct {
		name string
		in   gateInput
		g    gate
		want gateAction
	}{
		{"closed, BFD up", gateInput{hasBFD: true, bfdUp: true}, closed, gateOpen},
		{"closed, waiting", gateInput{hasBFD: true}, closed, gateNone},
		{"closed, timed out", gateInput{hasBFD: true}, gate{closed: true, waitSince: now.Add(-bfdGateTimeout)}, gateOpenTimeout},
		{"closed, BFD removed", gateInput{}, closed, gateOpen},
		{"open, BFD went down, session gone", gateInput{hasBFD: true}, gate{seenUp: true}, gateClose},
		{"open, BFD down, session still up", gateInput{hasBFD: true, established: true}, gate{seenUp: true}, gateNone},
		{"open without BFD ever up", gateInput{hasBFD: true}, gate{timedOut: true}, gateNone},
		{"open, no BFD", gateInput{}, gate{}, gateNone},
		{"BFD reset a dead session", gateInput{hasBFD: true, bfdUp: true, queuedReset: true}, gate{seenUp: true}, gateReplace},
		{"BFD reset, closed", gateInput{hasBFD: true, queuedReset: true}, closed, gateReplace},
		{"BFD down, reset still to come", gateInput{hasBFD: true, established: true, queuedReset: true}, gate{seenUp: true}, gateNone},
		{"BFD reset sent on the session, BFD back", gateInput{hasBFD: true, bfdUp: true}, gate{seenUp: true}, gateNone},
		{"BFD reset sent on the session, BFD still down", gateInput{hasBFD: true}, gate{seenUp: true}, gateClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gateDecision(tc.in, tc.g, now); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
