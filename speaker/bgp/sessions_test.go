package bgp

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/frr"
)

// TestWrongPassword: a TCP-MD5 mismatch keeps the session down and Status
// says why; fixing the password rebuilds that session only; no password
// reaches the logs.
func TestWrongPassword(t *testing.T) {
	const right, wrong = "right-s3cret", "wrong-s3cret"
	b := newBGPLab(t, labSpec{nodes: 1, password: right})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	node := b.speakers[0]
	vip4, vip6 := mustPrefix("203.0.113.10/32"), mustPrefix("2001:db8:300::10/128")
	routes := []Route{{Prefix: vip4}, {Prefix: vip6}}
	// The IPv4 session gets the wrong password, the IPv6 one the right.
	node.Start(StartArgs{Options: b.options(0), Routes: routes, SetRoutes: true, Peers: b.peers(func(p *Peer) {
		if p.Name == torV4 {
			p.Password = wrong
		}
	})})
	v6 := b.lab.Nodes[0].IPv6.Addr()
	v4 := b.lab.Nodes[0].IPv4.Addr()
	if _, err := b.tor.WaitEstablished(ctx, v6); err != nil {
		t.Fatal(err)
	}
	b.waitNextHops(ctx, vip6, []netip.Addr{v6})

	// Wait for the speaker to have failed to connect.
	var st PeerStatus
	for st = node.PeerStatus(torV4); !strings.Contains(st.LastError, "TCP-MD5"); st = node.PeerStatus(torV4) {
		if ctx.Err() != nil {
			t.Fatalf("no TCP-MD5 hint in the status: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("status with the wrong password: %+v", st)
	if st.State == StateEstablished || st.LastErrorTime.IsZero() {
		t.Errorf("status %+v", st)
	}
	nbrs, err := b.tor.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if nbrs[v4].Established() || nbrs[v4].ConnectionsEstablished != 0 {
		t.Errorf("FRR's IPv4 session with the wrong password: %+v", nbrs[v4])
	}
	if r, ok, _ := b.tor.Route(ctx, vip4); ok {
		t.Errorf("%s announced over a session that must be down: %+v", vip4, r)
	}

	// Fix the password: the IPv4 session comes up, the IPv6 one stays.
	time.Sleep(1100 * time.Millisecond) // uptimes in whole seconds
	before := nbrs[v6]
	if err := node.SetPeers(b.peers(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.tor.WaitEstablished(ctx, v4); err != nil {
		t.Fatal(err)
	}
	b.waitNextHops(ctx, vip4, []netip.Addr{v4})
	nbrs, err = b.tor.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after := nbrs[v6]; after.ConnectionsEstablished != before.ConnectionsEstablished || after.Uptime <= before.Uptime {
		t.Errorf("the IPv6 session was reset by the IPv4 password change: before %+v after %+v", before, after)
	}

	log, err := os.ReadFile(node.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{right, wrong} {
		if strings.Contains(string(log), pw) {
			t.Errorf("the speaker log contains the password %q", pw)
		}
	}
}

// TestBFD: cutting a node's link makes FRR drop its next hops through BFD,
// long before the 90s hold time, and the speaker reports BFD; the link
// coming back restores everything.
func TestBFD(t *testing.T) {
	b := newBGPLab(t, labSpec{nodes: 3, bfd: true})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	vip4, vip6 := mustPrefix("203.0.113.10/32"), mustPrefix("2001:db8:300::10/128")
	b.startSpeakers(b.peers(withBFD), []Route{{Prefix: vip4}, {Prefix: vip6}})
	b.waitEstablished(ctx)
	b.waitNextHops(ctx, vip4, b.nodeAddrs(true))
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
	b.waitBFD(ctx, b.allNeighbors(), nil)
	for _, st := range b.speakers[0].Status() {
		if st.BFD != BFDUp {
			t.Errorf("speaker status %+v, want BFD Up", st)
		}
	}
	if m := b.speakers[0].Metrics(); !strings.Contains(m, `ironlb_bgp_bfd_up{peer="tor-v4"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}

	elapsed := b.cutAndWait(ctx, 0, vip4, vip6)
	t.Logf("FRR dropped node1's next hops %v after its link went down", elapsed)
	if elapsed > 5*time.Second {
		t.Errorf("next hops dropped after %v: BFD did not act (hold time is 90s)", elapsed)
	}
	down := addrOf(b.lab.Nodes[0], true)
	peers, err := b.tor.BFDPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := peers[down]; p.Up() || !strings.Contains(p.Diagnostic, "detection time expired") {
		t.Errorf("FRR's BFD session with node1: %+v", p)
	}

	// The link comes back: BFD, the sessions and the next hops follow.
	if err := b.lab.Nodes[0].SetLink(true); err != nil {
		t.Fatal(err)
	}
	b.waitNextHops(ctx, vip4, b.nodeAddrs(true))
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
	b.waitBFD(ctx, b.allNeighbors(), nil)
	if st := b.speakers[0].PeerStatus(torV4); !strings.Contains(st.LastError, "BFD") {
		t.Errorf("node1's status does not mention BFD: %+v", st)
	}
}

// withBFD gives a peer the BFD timers FRR uses in the lab.
func withBFD(p *Peer) {
	p.BFD = &BFDProfile{Name: "lab", ReceiveInterval: bfdInterval, TransmitInterval: bfdInterval, DetectMultiplier: bfdMultiplier}
}

// waitBFD waits until FRR has BFD up with every address in up and not up
// with every one in down.
func (b *bgpLab) waitBFD(ctx context.Context, up, down []netip.Addr) {
	b.t.Helper()
	var last map[netip.Addr]frr.BFDPeer
	for {
		peers, err := b.tor.BFDPeers(ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		last = peers
		ok := true
		for _, a := range up {
			ok = ok && peers[a].Up()
		}
		for _, a := range down {
			ok = ok && !peers[a].Up()
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("BFD: want up %v down %v; have %+v", up, down, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cutAndWait takes node i's link down and returns how long FRR took to
// forward the prefixes without it.
func (b *bgpLab) cutAndWait(ctx context.Context, i int, prefixes ...netip.Prefix) time.Duration {
	b.t.Helper()
	start := time.Now()
	if err := b.lab.Nodes[i].SetLink(false); err != nil {
		b.t.Fatal(err)
	}
	for _, p := range prefixes {
		var rest []int
		for j := range b.lab.Nodes {
			if j != i {
				rest = append(rest, j)
			}
		}
		b.waitNextHops(ctx, p, b.nodeAddrs(p.Addr().Is4(), rest...))
	}
	return time.Since(start)
}

// TestGracefulRestart: a speaker that stops (Run returns) and starts
// again never makes FRR lose its next hop when graceful restart is on;
// without it, the Cease makes FRR drop the next hop at once.
func TestGracefulRestart(t *testing.T) {
	t.Run("enabled", func(t *testing.T) { testRestart(t, true, false) })
	t.Run("enabled with BFD", func(t *testing.T) { testRestart(t, true, true) })
	t.Run("disabled", func(t *testing.T) { testRestart(t, false, false) })
}

func testRestart(t *testing.T, gr, bfd bool) {
	b := newBGPLab(t, labSpec{nodes: 2, gracefulRestart: gr, bfd: bfd})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	vip4, vip6 := mustPrefix("203.0.113.10/32"), mustPrefix("2001:db8:300::10/128")
	routes := []Route{{Prefix: vip4}, {Prefix: vip6}}
	peers := b.peers(func(p *Peer) {
		p.GracefulRestart = gr
		if bfd {
			withBFD(p)
		}
	})
	start := time.Now()
	b.startSpeakers(peers, routes)
	b.waitEstablished(ctx)
	t.Logf("sessions established %v after the start", time.Since(start))
	b.waitNextHops(ctx, vip4, b.nodeAddrs(true))
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
	node1v4 := addrOf(b.lab.Nodes[0], true)

	b.speakers[0].Stop()
	if !gr {
		b.waitNextHops(ctx, vip4, b.nodeAddrs(true, 1))
		b.waitNextHops(ctx, vip6, b.nodeAddrs(false, 1))
		return
	}
	// FRR notices the session is gone and keeps the path as stale.
	r, err := b.tor.WaitRoute(ctx, vip4, func(r frr.Route, _ bool) bool {
		p, ok := r.PathVia(node1v4)
		return ok && p.Stale
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.NextHops(); !slices.Equal(got, b.nodeAddrs(true)) {
		t.Errorf("next hops while node1 restarts: %v", got)
	}

	// Watch every next hop from now until node1 is back: none may go.
	watchCtx, stopWatch := context.WithCancel(ctx)
	lost := make(chan string, 1)
	go func() {
		defer close(lost)
		for watchCtx.Err() == nil {
			for _, p := range []netip.Prefix{vip4, vip6} {
				r, _, err := b.tor.Route(watchCtx, p)
				if err == nil && !slices.Equal(r.NextHops(), b.nodeAddrs(p.Addr().Is4())) {
					lost <- p.String() + " next hops " + sprint(r.NextHops())
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second) // down for a while
	restart := time.Now()
	b.speakers[0].Start(StartArgs{Options: b.options(0), Peers: peers, Routes: routes, SetRoutes: true})
	b.waitEstablished(ctx)
	t.Logf("sessions re-established %v after the restart", time.Since(restart))
	for _, p := range []netip.Prefix{vip4, vip6} {
		if _, err := b.tor.WaitRoute(ctx, p, func(r frr.Route, _ bool) bool {
			for _, path := range r.Paths {
				if path.Stale {
					return false
				}
			}
			return len(r.Paths) == 2
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("routes refreshed %v after the restart", time.Since(restart))
	// The restarted speaker told FRR it kept forwarding (the F bit), which
	// is why FRR kept the stale paths until the new ones came.
	var nbr map[string]struct {
		GracefulRestartInfo struct {
			IPv4Unicast struct {
				FBit bool `json:"fBit"`
			} `json:"ipv4Unicast"`
		} `json:"gracefulRestartInfo"`
	}
	if err := b.tor.JSON(ctx, frr.BGPD, "show bgp neighbors "+node1v4.String()+" json", &nbr); err != nil {
		t.Fatal(err)
	}
	if !nbr[node1v4.String()].GracefulRestartInfo.IPv4Unicast.FBit {
		t.Errorf("FRR did not see the forwarding-state bit from the restarted speaker")
	}
	stopWatch()
	if msg, ok := <-lost; ok {
		t.Errorf("FRR lost a next hop during the restart: %s", msg)
	}
}

func sprint(a []netip.Addr) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestPeerChanges: changing, removing and adding a peer touches that
// peer's session only; a BFD-only change touches none; an invalid peer is
// reported and left out while the others apply.
func TestPeerChanges(t *testing.T) {
	b := newBGPLab(t, labSpec{nodes: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	vip4, vip6 := mustPrefix("203.0.113.10/32"), mustPrefix("2001:db8:300::10/128")
	b.startSpeakers(b.peers(nil), []Route{{Prefix: vip4}, {Prefix: vip6}})
	b.waitEstablished(ctx)
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
	n1v6 := addrOf(b.lab.Nodes[0], false)
	node := b.speakers[0]

	snap := func() map[netip.Addr]frr.NeighborStatus {
		n, err := b.tor.Neighbors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// unchanged checks that every session but those in changed kept going.
	unchanged := func(before map[netip.Addr]frr.NeighborStatus, changed ...netip.Addr) {
		t.Helper()
		time.Sleep(1100 * time.Millisecond) // FRR counts uptime in whole seconds
		after, err := b.tor.Neighbors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for a, was := range before {
			if slices.Contains(changed, a) {
				continue
			}
			if now := after[a]; !now.Established() || now.ConnectionsEstablished != was.ConnectionsEstablished || now.Uptime <= was.Uptime {
				t.Errorf("session %s was touched: before %+v after %+v", a, was, now)
			}
		}
	}

	// A new hold time rebuilds node1's IPv6 session only.
	before := snap()
	if err := node.SetPeers(b.peers(func(p *Peer) {
		if p.Name == torV6 {
			p.HoldTime = 30 * time.Second
		}
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.tor.WaitNeighbors(ctx, func(n map[netip.Addr]frr.NeighborStatus) bool {
		return n[n1v6].Established() && n[n1v6].ConnectionsEstablished == before[n1v6].ConnectionsEstablished+1
	}); err != nil {
		t.Fatal(err)
	}
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
	unchanged(before, n1v6)

	// BFD added to the IPv4 session: applied in place.
	before = snap()
	if err := node.SetPeers(b.peers(func(p *Peer) {
		if p.Name == torV6 {
			p.HoldTime = 30 * time.Second
		} else {
			withBFD(p)
		}
	})); err != nil {
		t.Fatal(err)
	}
	if st := node.PeerStatus(torV4); st.BFD == "" || st.State != StateEstablished {
		t.Errorf("status after adding BFD: %+v", st)
	}
	unchanged(before)

	// Removing the IPv6 peer closes that session; an invalid extra peer is
	// reported and ignored.
	before = snap()
	v4only := b.peers(withBFD)[:1]
	bad := Peer{Name: "broken", MyASN: nodeASN, PeerASN: torASN, Address: netip.MustParseAddr("198.51.100.200")}
	err := node.SetPeers(append(slices.Clone(v4only), bad))
	if err == nil || !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), "HoldTime") {
		t.Errorf("SetPeers with an invalid peer: err = %v", err)
	}
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false, 1))
	if _, err := b.tor.WaitNeighbors(ctx, func(n map[netip.Addr]frr.NeighborStatus) bool { return !n[n1v6].Established() }); err != nil {
		t.Fatal(err)
	}
	if st := node.Status(); len(st) != 1 || st[0].Name != torV4 {
		t.Errorf("status after removing tor-v6: %+v", st)
	}
	unchanged(before, n1v6)

	// Adding it back (without BFD: the router has none for it, and the
	// BFD gate would hold the session for 10s).
	if err := node.SetPeers(b.peers(func(p *Peer) {
		if p.Name == torV4 {
			withBFD(p)
		}
	})); err != nil {
		t.Fatal(err)
	}
	b.waitNextHops(ctx, vip6, b.nodeAddrs(false))
}
