package faults_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkNodeLossAPIFrozen freezes the API server and loses the node
// that answers ARP for the layer 2 VIP ten times in a row (its LAN link
// down, then up again): the time from the loss to the first answer through
// the new path, with nothing but the speakers' own liveness protocol to go
// on. Run with -benchtime=1x.
func BenchmarkNodeLossAPIFrozen(b *testing.B) {
	const losses = 10
	for range b.N {
		s := startLAN(b)
		resume := s.c.API.Freeze(b)
		var took []time.Duration
		for range losses {
			owner := announcerOnWire(b, s.c, s.client, s.vips[0])
			h := s.c.Lab.Host(owner)
			if err := h.SetLink(false); err != nil {
				b.Fatal(err)
			}
			lost := time.Now()
			took = append(took, firstAnswer(b, s.client, s.vips[0], 50*time.Millisecond, 10*time.Second).Sub(lost))
			if err := h.SetLink(true); err != nil {
				b.Fatal(err)
			}
			// Long enough for every speaker to hold the node alive again
			// (liveness timeout 1.2 s) before the next loss.
			time.Sleep(3 * time.Second)
		}
		resume()
		slices.Sort(took)
		b.Logf("first answer after each loss: %v", took)
		b.ReportMetric(ms(took[len(took)/2]), "first-answer-p50-ms")
		// With ten samples the 99th percentile is the largest.
		b.ReportMetric(ms(took[len(took)-1]), "first-answer-p99-ms")
	}
}

// BenchmarkNodeLossFailedRequests sends a request every 15 ms (1 s
// timeout) to both VIPs of a layer 2 Service with a pod on every node,
// loses the announcing node and counts the requests that fail in the next
// 10 s. Run with -benchtime=1x.
func BenchmarkNodeLossFailedRequests(b *testing.B) {
	for range b.N {
		s := startLAN(b)
		traffic := cluster.StartTraffic(b, s.client, 15*time.Millisecond, time.Second, s.vips...)
		time.Sleep(time.Second)
		h := s.c.Lab.Host(s.owner)
		atLoss := traffic.Snapshot()
		if err := h.SetLink(false); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		counts := cluster.Since(atLoss, traffic.Snapshot())
		traffic.Stop()
		if err := h.SetLink(true); err != nil {
			b.Fatal(err)
		}
		worst := 0
		for vip, n := range counts {
			b.Logf("%s: %d of %d requests failed in the 10 s after %s was lost", vip, n.Failed, n.Sent, s.owner)
			if n.Sent < 300 {
				b.Fatalf("%s: only %d requests in 10 s: the traffic did not run", vip, n.Sent)
			}
			worst = max(worst, n.Failed)
		}
		b.ReportMetric(float64(worst), "failed-in-10s")
	}
}

// BenchmarkRollingRestart restarts every speaker in turn under steady
// traffic to every VIP (layer 2 and BGP, both families) and reports the
// failed requests per restart of the worst VIP, and how many addresses
// changed. Run with -benchtime=1x.
func BenchmarkRollingRestart(b *testing.B) {
	for range b.N {
		s := cluster.StartSystem(b, cluster.SystemOptions{})
		s.WaitSessions(b)
		s.WaitBGPRoutes(b)
		before := s.Snapshot(b, s.Services...)
		traffic := cluster.StartTraffic(b, s.C.Lab.Clients[0], 15*time.Millisecond, time.Second, s.AllVIPs()...)
		time.Sleep(time.Second)
		start := traffic.Snapshot()
		s.RollingRestart(b)
		s.WaitAnnounced(b, before)
		time.Sleep(2 * time.Second)
		counts := cluster.Since(start, traffic.Snapshot())
		traffic.Stop()
		restarts := len(s.C.Lab.Nodes)
		worst := 0
		for vip, n := range counts {
			b.Logf("%s: %d of %d requests failed across %d speaker restarts", vip, n.Failed, n.Sent, restarts)
			worst = max(worst, n.Failed)
		}
		changed := 0
		after := s.Snapshot(b, s.Services...)
		for name, ips := range before.IPs {
			for i, ip := range ips {
				if i >= len(after.IPs[name]) || after.IPs[name][i] != ip {
					changed++
				}
			}
		}
		b.ReportMetric(float64(worst)/float64(restarts), "failed-per-restart")
		b.ReportMetric(float64(changed), "ips-changed")
	}
}
