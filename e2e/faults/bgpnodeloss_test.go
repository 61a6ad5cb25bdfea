package faults_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestBGPNodeLossAndReturn loses a node (LAN link down) behind the router
// under steady traffic to a Cluster and a Local BGP Service (both
// families), with BFD on every session. The router spreads connections
// over the nodes (layer 4 ECMP hashing, as a real top-of-rack switch
// does), so some go to the lost node until BFD takes its next hop away.
// The first answer after the last failed probe comes < 500 ms after the
// loss, and no request sent later than that fails: the router no longer
// sends to the lost node, and the live nodes' datapaths no longer send
// Cluster traffic to its pod. The node comes back: its sessions and next
// hops return and its pod answers again.
func TestBGPNodeLossAndReturn(t *testing.T) {
	s := cluster.StartSystem(t, cluster.SystemOptions{BFD: true, LocalBGP: true})
	c := s.C
	ctx := context.Background()
	for _, kv := range []string{"net.ipv4.fib_multipath_hash_policy=1", "net.ipv6.fib_multipath_hash_policy=1"} {
		if out, err := c.Lab.Router.Exec(ctx, "sysctl", "-qw", kv); err != nil {
			t.Fatalf("router %s: %v: %s", kv, err, out)
		}
	}
	s.WaitSessions(t)
	s.WaitBGPRoutes(t)
	vips := append(append([]netip.AddrPort(nil), s.VIPs["bgp"]...), s.VIPs["bgp-local"]...)
	client := c.Lab.Clients[0]
	traffic := cluster.StartTraffic(t, client, 15*time.Millisecond, time.Second, vips...)
	time.Sleep(time.Second)
	if n := traffic.Snapshot(); anyFailed(n) {
		t.Fatalf("requests failed before any fault: %+v", n)
	}

	lostNode := c.Lab.Nodes[1].Name
	var live []string
	for _, n := range c.Lab.Nodes {
		if n.Name != lostNode {
			live = append(live, n.Name)
		}
	}
	h := c.Lab.Host(lostNode)
	pctx, stopProbes := context.WithCancel(ctx)
	probes := make([]chan []probeResult, len(vips))
	for i, vip := range vips {
		probes[i] = make(chan []probeResult, 1)
		go func() { probes[i] <- probe(pctx, client, vip, 100*time.Millisecond) }()
	}
	time.Sleep(300 * time.Millisecond) // probes in flight before the loss
	atLoss := traffic.Snapshot()
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	t.Cleanup(func() { _ = h.SetLink(true) })
	time.Sleep(2 * time.Second)
	stopProbes()

	repaired := lost
	for i, vip := range vips {
		firstOK, failed := recovery(<-probes[i], lost)
		if failed == 0 {
			t.Logf("%s: no probe went to %s after the loss", vip, lostNode)
			continue
		}
		took := firstOK.Sub(lost)
		t.Logf("%s: %d probes failed, first answer after the last failure %v after %s was lost", vip, failed, took.Round(time.Millisecond), lostNode)
		if firstOK.IsZero() || took > 500*time.Millisecond {
			t.Errorf("%s: no answer through the new path within 500 ms of the loss (first: %v)", vip, took)
		}
		if firstOK.After(repaired) {
			repaired = firstOK
		}
	}
	s.WaitBGPRoutes(t, live...)
	time.Sleep(time.Until(lost.Add(6 * time.Second)))
	beforeReturn := traffic.Snapshot()
	for vip, n := range cluster.Since(atLoss, beforeReturn) {
		t.Logf("%s: %d of %d requests failed in the 6 s after %s was lost", vip, n.Failed, n.Sent, lostNode)
		if n.Sent < 100 {
			t.Errorf("%s: only %d requests while %s was lost: the traffic did not run", vip, n.Sent, lostNode)
		}
		for _, sent := range n.FailedSent {
			if sent.After(repaired) || sent.After(lost.Add(500*time.Millisecond)) {
				t.Errorf("%s: a request sent %v after the loss failed (the path was repaired at %v): %v",
					vip, sent.Sub(lost).Round(time.Millisecond), repaired.Sub(lost).Round(time.Millisecond), n.LastError)
			}
		}
	}

	// Return: the sessions and next hops come back, and the node's pod
	// answers again, through the Local VIP (only its own node sends there).
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	s.WaitSessions(t, lostNode)
	s.WaitBGPRoutes(t)
	t.Logf("%s back: sessions and next hops restored after %v", lostNode, time.Since(back).Round(time.Millisecond))
	for _, vip := range s.VIPs["bgp-local"] {
		cluster.Eventually(t, 30*time.Second, "web-"+lostNode+" to answer through "+vip.String(), func() error {
			return answeredThrough(client, vip, "web-"+lostNode)
		})
	}
	time.Sleep(2 * time.Second)
	for vip, n := range cluster.Since(beforeReturn, traffic.Snapshot()) {
		t.Logf("%s: %d of %d requests failed from the return until 2 s after every next hop was back", vip, n.Failed, n.Sent)
		if n.Failed > 1 {
			t.Errorf("%s: %d requests failed after %s came back (last %v after): %v",
				vip, n.Failed, lostNode, n.LastFailure.Sub(back).Round(time.Millisecond), n.LastError)
		}
	}
}

// probeResult is one probe request.
type probeResult struct {
	sent, done time.Time
	err        error
}

// probe sends one request after another to vip, each on a new connection
// (so the router hashes each on its own) given per to answer, until ctx
// ends.
func probe(ctx context.Context, client *vlan.Host, vip netip.AddrPort, per time.Duration) []probeResult {
	var out []probeResult
	for ctx.Err() == nil {
		r := probeResult{sent: time.Now()}
		r.err = cluster.Request(ctx, client, vip, per)
		r.done = time.Now()
		if ctx.Err() == nil {
			out = append(out, r)
		}
	}
	return out
}

// recovery returns when the first probe that answered after the last
// failed one (sent after since) got its answer, and how many failed.
func recovery(results []probeResult, since time.Time) (firstOK time.Time, failed int) {
	for _, r := range results {
		if r.sent.Before(since) && r.done.Before(since) {
			continue
		}
		switch {
		case r.err != nil:
			failed++
			firstOK = time.Time{}
		case firstOK.IsZero() && failed > 0:
			firstOK = r.done
		}
	}
	return firstOK, failed
}

// answeredThrough asks vip until pod answers (a few tries: requests are
// balanced).
func answeredThrough(client *vlan.Host, vip netip.AddrPort, pod string) error {
	seen := map[string]bool{}
	for range 20 {
		name, err := cluster.Ask(context.Background(), client, vip, time.Second)
		if err != nil {
			return err
		}
		if name == pod {
			return nil
		}
		seen[name] = true
	}
	return fmt.Errorf("answers from %v only", seen)
}
