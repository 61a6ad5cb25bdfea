package faults_test

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestNodeLossAndReturn loses a node (its LAN link down) under steady
// traffic to every VIP: layer 2 and BGP, Cluster and Local, IPv4 and IPv6.
// The lost node announces the layer 2 Service's IPv4 address; the router
// spreads each connection to a BGP VIP over the nodes (layer 4 ECMP, BFD
// on every session). For every VIP the first answer through the new path
// comes < 500 ms after the loss, and no request sent after that fails (the
// router no longer sends to the lost node, the layer 2 address has moved,
// and no node's datapath sends Cluster traffic to its pod). The node comes
// back: its pod answers through the Local BGP VIPs again, no VIP fails more
// than one request, every layer 2 address moves at most once more, and two
// MACs never answer for one for more than 100 ms.
func TestNodeLossAndReturn(t *testing.T) {
	s := cluster.StartSystem(t, cluster.SystemOptions{BFD: true, LocalBGP: true, LocalLAN: true})
	c, client, ctx := s.C, s.C.Lab.Clients[0], context.Background()
	s.WaitSessions(t)
	s.WaitBGPRoutes(t)
	lost := c.WaitForAnnouncer(t, "default", "lan", s.VIPs["lan"][0].Addr(), func(string) bool { return true })
	var live []string
	for _, n := range c.Lab.Nodes {
		if n.Name != lost {
			live = append(live, n.Name)
		}
		// The client shares the LAN with the nodes and talks to them
		// directly too; the router must still spread its connections.
		for _, a := range []netip.Addr{n.IPv4.Addr(), n.IPv6.Addr()} {
			if _, err := client.Ping(ctx, a); err != nil {
				t.Fatalf("client: ping %s (%s): %v", a, n.Name, err)
			}
		}
	}
	servedByEveryNode(t, s)

	// Who answers for the layer 2 addresses, on the wire, from now on.
	l2 := append(slices.Clone(s.VIPs["lan"]), s.VIPs["lan-local"]...)
	capt, err := c.Lab.CaptureNeighborDiscovery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Stop()
	for _, vip := range l2 {
		stop, err := client.ProbeNeighbor(ctx, vip.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	vips := s.AllVIPs()
	traffic := cluster.StartTraffic(t, client, 15*time.Millisecond, time.Second, vips...)
	time.Sleep(time.Second)
	if n := traffic.Snapshot(); cluster.AnyFailed(n) {
		t.Fatalf("requests failed before any fault: %+v", n)
	}

	// Loss.
	h := c.Lab.Host(lost)
	probes := startProbes(client, vips)
	// Each BGP address's route, for the moment the router drops the lost
	// node from it.
	lostHop := map[netip.Addr]netip.Addr{}
	for _, vip := range append(slices.Clone(s.VIPs["bgp"]), s.VIPs["bgp-local"]...) {
		lostHop[vip.Addr()] = c.NodeAddr(lost, vip.Addr().Is6())
	}
	hops := watchHopsGone(c.Lab.Router, lostHop)
	time.Sleep(300 * time.Millisecond) // probes in flight before the loss
	atLoss := traffic.Snapshot()
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	lostAt := time.Now()
	t.Cleanup(func() { _ = h.SetLink(true) })
	time.Sleep(2 * time.Second)
	results := probes.stop()
	dropped, err := hops.stop()
	if err != nil {
		t.Fatalf("router routes: %v", err)
	}
	repaired := map[netip.AddrPort]time.Time{}
	for _, vip := range vips {
		firstOK, failed := recovery(results[vip], lostAt)
		repaired[vip] = lostAt
		if failed == 0 {
			t.Logf("%s: no new connection failed after %s was lost", vip, lost)
		} else {
			took := firstOK.Sub(lostAt)
			t.Logf("%s: %d probes failed; first answer through the new path %v after %s was lost", vip, failed, took.Round(time.Millisecond), lost)
			if firstOK.IsZero() || took > 500*time.Millisecond {
				t.Errorf("%s: no answer through the new path within 500 ms of the loss (%d probes failed, first answer after the last failure: %v)", vip, failed, took.Round(time.Millisecond))
			}
			repaired[vip] = firstOK
		}
		// A BGP address is repaired when the router no longer sends to
		// the lost node: until then a probe that answered may only have
		// hashed to a live one.
		if hop, ok := lostHop[vip.Addr()]; ok {
			at, ok := dropped[vip.Addr()]
			if !ok {
				t.Errorf("%s: the router still routes it via %s (%s) 2 s after the loss", vip, hop, lost)
				continue
			}
			t.Logf("%s: the router dropped %s's next hop %v after the loss", vip, lost, at.Sub(lostAt).Round(time.Millisecond))
			if at.Sub(lostAt) > 500*time.Millisecond {
				t.Errorf("%s: the router dropped %s's next hop only %v after the loss, want < 500 ms", vip, lost, at.Sub(lostAt).Round(time.Millisecond))
			}
			if at.After(repaired[vip]) {
				repaired[vip] = at
			}
		}
	}
	s.WaitBGPRoutes(t, live...)
	time.Sleep(time.Until(lostAt.Add(6 * time.Second)))
	beforeReturn := traffic.Snapshot()
	for vip, n := range cluster.Since(atLoss, beforeReturn) {
		t.Logf("%s: %d of %d requests failed in the 6 s after %s was lost, sent %v after the loss", vip, n.Failed, n.Sent, lost, cluster.Offsets(n.FailedSent, lostAt))
		if n.Sent < 100 {
			t.Errorf("%s: only %d requests while %s was lost: the traffic did not run", vip, n.Sent, lost)
		}
		for _, sent := range n.FailedSent {
			if sent.After(repaired[vip]) {
				t.Errorf("%s: a request sent %v after the loss failed, after the first answer through the new path (%v): %v",
					vip, sent.Sub(lostAt).Round(time.Millisecond), repaired[vip].Sub(lostAt).Round(time.Millisecond), n.LastError)
			}
		}
	}

	// Return.
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	s.WaitSessions(t, lost)
	s.WaitBGPRoutes(t)
	t.Logf("%s back: sessions and next hops restored after %v", lost, time.Since(back).Round(time.Millisecond))
	servedByEveryNode(t, s)
	time.Sleep(time.Until(back.Add(5 * time.Second)))
	for vip, n := range cluster.Since(beforeReturn, traffic.Snapshot()) {
		t.Logf("%s: %d of %d requests failed from the return until every next hop was back and %s's pod served again", vip, n.Failed, n.Sent, lost)
		if n.Failed > 1 {
			t.Errorf("%s: %d requests failed after %s came back, sent %v after the return: %v",
				vip, n.Failed, lost, cluster.Offsets(n.FailedSent, back), n.LastError)
		}
	}
	frames := capt.Stop()
	if d := capt.Dropped(); d > 0 {
		t.Errorf("capture dropped %d frames: the answerer checks are incomplete", d)
	}
	for _, vip := range l2 {
		answers := vlan.Answers(frames, vip.Addr())
		spans := vlan.AnsweringSpans(answers, 50*time.Millisecond)
		var fromReturn []vlan.Span
		for _, sp := range spans {
			if !sp.End.Before(back) {
				fromReturn = append(fromReturn, sp)
			}
		}
		overlap, at := vlan.LongestOverlap(spans)
		t.Logf("%s: %d answers on the wire; %d moves in all, %d from the return; longest two-MAC overlap %v",
			vip.Addr(), len(answers), vlan.Moves(spans), vlan.Moves(fromReturn), overlap)
		if len(answers) < 50 {
			t.Errorf("%s: only %d answers on the wire: the client was not asking", vip.Addr(), len(answers))
		}
		if m := vlan.Moves(fromReturn); m > 1 {
			t.Errorf("%s moved %d times after %s came back, want at most 1: %v", vip.Addr(), m, lost, fromReturn)
		}
		if overlap > 100*time.Millisecond {
			t.Errorf("two MACs answered for %s together for %v (from %s)", vip.Addr(), overlap, at.Format(time.StampMilli))
		}
	}
}

// servedByEveryNode waits until every node's pod answers through each
// Local BGP VIP: the router spreads connections over all of them.
func servedByEveryNode(t *testing.T, s *cluster.System) {
	t.Helper()
	for _, vip := range s.VIPs["bgp-local"] {
		for _, n := range s.C.Lab.Nodes {
			cluster.Eventually(t, 30*time.Second, "web-"+n.Name+" to answer through "+vip.String(), func() error {
				return answeredThrough(s.C.Lab.Clients[0], vip, "web-"+n.Name)
			})
		}
	}
}

// probeResult is one probe request.
type probeResult struct {
	sent, done time.Time
	err        error
}

// probes open a new connection to every target every 20 ms, each on its
// own (the router hashes each on its own) with a second to answer, so a
// repaired path shows within 20 ms.
type probes struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	out    map[netip.AddrPort][]probeResult
}

func startProbes(client *vlan.Host, targets []netip.AddrPort) *probes {
	ctx, cancel := context.WithCancel(context.Background())
	p := &probes{cancel: cancel, out: map[netip.AddrPort][]probeResult{}}
	for _, target := range targets {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					r := probeResult{sent: time.Now()}
					r.err = cluster.Request(ctx, client, target, time.Second)
					r.done = time.Now()
					if ctx.Err() == nil {
						p.mu.Lock()
						p.out[target] = append(p.out[target], r)
						p.mu.Unlock()
					}
				}()
			}
		}()
	}
	return p
}

// stop ends the probes (those still waiting are dropped) and returns the
// results per target, ordered by the time they were sent.
func (p *probes) stop() map[netip.AddrPort][]probeResult {
	p.cancel()
	p.wg.Wait()
	for _, rs := range p.out {
		slices.SortFunc(rs, func(a, b probeResult) int { return a.sent.Compare(b.sent) })
	}
	return p.out
}

// recovery returns when the first probe sent after the last failed one got
// its answer (zero if none did), and how many failed, counting the probes
// still open or sent after since.
func recovery(results []probeResult, since time.Time) (firstOK time.Time, failed int) {
	last := -1
	for i, r := range results {
		if r.done.Before(since) {
			continue
		}
		if r.err != nil {
			failed++
			last = i
		}
	}
	if failed == 0 {
		return time.Time{}, 0
	}
	for _, r := range results[last+1:] {
		if r.err == nil {
			return r.done, failed
		}
	}
	return time.Time{}, failed
}
