package faults_test

import (
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// TestFrozenAPIServer freezes the API server for 60 s: every VIP keeps
// answering, losing the announcing node during the outage still fails over
// in under 500 ms (the speakers watch each other directly and the datapath
// stops using the lost node's pod without the API), and when the API
// server resumes no announcement moves.
func TestFrozenAPIServer(t *testing.T) {
	s := startLAN(t)
	c := s.c
	traffic := cluster.StartTraffic(t, s.client, 15*time.Millisecond, time.Second, s.vips...)
	time.Sleep(time.Second)

	frozenAt := traffic.Snapshot()
	resume := c.API.Freeze(t)
	frozen := time.Now()
	time.Sleep(5 * time.Second)
	if n := cluster.Since(frozenAt, traffic.Snapshot()); cluster.AnyFailed(n) {
		t.Errorf("requests failed while the API server was frozen: %+v", n)
	}

	// The announcer's link goes down during the outage.
	owner := c.Lab.Host(s.owner)
	traffic.Stop() // firstAnswer measures alone
	if err := owner.SetLink(false); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	t.Cleanup(func() { _ = owner.SetLink(true) })
	failover := firstAnswer(t, s.client, s.vips[0], 50*time.Millisecond, 10*time.Second).Sub(lost)
	t.Logf("announcer %s lost with the API server frozen: first answer through the new path after %v", s.owner, failover.Round(time.Millisecond))
	if failover > 500*time.Millisecond {
		t.Errorf("failover took %v with the API server frozen, want < 500 ms", failover)
	}

	traffic = cluster.StartTraffic(t, s.client, 15*time.Millisecond, time.Second, s.vips...)
	time.Sleep(time.Second)
	afterFailover := traffic.Snapshot()
	time.Sleep(time.Until(frozen.Add(60 * time.Second)))
	resume()
	resumed := time.Now()
	time.Sleep(5 * time.Second)
	end := traffic.Snapshot()
	for vip, n := range cluster.Since(afterFailover, end) {
		t.Logf("%s: %d of %d requests failed from 1 s after the failover to 5 s after the API server resumed", vip, n.Failed, n.Sent)
		if n.Failed > 0 {
			t.Errorf("%s: %d failed requests (last %v after the resume): %v", vip, n.Failed, n.LastFailure.Sub(resumed).Round(time.Millisecond), n.LastError)
		}
	}
	// The status catches up with what the network did, and nothing
	// moves back or elsewhere.
	next := c.WaitForAnnouncer(t, "default", "web", s.vips[0].Addr(), func(n string) bool { return n != s.owner })
	for range 20 {
		if st := c.L2Status(t, "default", "web", s.vips[0].Addr()); st == nil || st.Status.Node != next {
			t.Fatalf("after the resume the announcement moved from %s to %+v", next, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
