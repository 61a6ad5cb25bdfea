package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/frr"
)

// The benchmarks measure what a Service change costs end to end: from the
// SetRoutes call (over the helper's RPC, ~0.1 ms) until FRR has the
// route with its next hop in its RIB, read over bgpd's vty socket. They
// need root and FRR like the tests.

// percentile returns the p-th percentile (0..100) of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// reportLatencies reports p50, p99 and max of samples under a name.
func reportLatencies(b *testing.B, name string, samples []time.Duration) {
	s := slices.Clone(samples)
	slices.Sort(s)
	b.ReportMetric(ms(percentile(s, 50)), name+"-p50-ms")
	b.ReportMetric(ms(percentile(s, 99)), name+"-p99-ms")
	b.ReportMetric(ms(s[len(s)-1]), name+"-max-ms")
}

// benchLab starts a lab whose speakers run with these peers and routes,
// and waits until the router has every session in wantUp up.
func benchLab(b *testing.B, spec labSpec, peers func(*bgpLab) []Peer, routes []Route, wantUp func(*bgpLab) []netip.Addr) (*bgpLab, context.Context) {
	b.Helper()
	l := newBGPLab(b, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	l.startSpeakers(peers(l), routes)
	if _, err := l.tor.WaitEstablished(ctx, wantUp(l)...); err != nil {
		b.Fatal(err)
	}
	return l, ctx
}

// waitAdded polls (without sleeping) until FRR has a path for the prefix
// (received: the UPDATE is in) and until it selects it (FRR runs best-path
// selection from a work queue that waits 50 ms for more work).
func waitAdded(ctx context.Context, tor *frr.Router, p netip.Prefix, start time.Time) (received, selected time.Duration, err error) {
	for {
		r, ok, err := tor.Route(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		if ok && received == 0 {
			received = time.Since(start)
		}
		if len(r.NextHops()) > 0 {
			return received, time.Since(start), nil
		}
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
	}
}

// waitGone polls (without sleeping) until FRR no longer selects the path
// (received: the withdrawal is in) and until the route is gone (after
// best-path selection, like an addition).
func waitGone(ctx context.Context, tor *frr.Router, p netip.Prefix, start time.Time) (received, gone time.Duration, err error) {
	for {
		r, ok, err := tor.Route(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		if len(r.NextHops()) == 0 && received == 0 {
			received = time.Since(start)
		}
		if !ok {
			return received, time.Since(start), nil
		}
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
	}
}

// BenchmarkRouteVisible: a /32 added on one node until FRR has it and
// until it uses it, and removed until FRR has dropped it; 100 of each per iteration, one at a
// time, with 100 other routes announced already.
func BenchmarkRouteVisible(b *testing.B) {
	var base []Route
	for i := range 100 {
		base = append(base, Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)})
	}
	l, ctx := benchLab(b, labSpec{nodes: 1},
		func(l *bgpLab) []Peer { return l.peers(nil)[:1] }, base,
		func(l *bgpLab) []netip.Addr { return l.nodeAddrs(true) })
	node := l.speakers[0]
	var received, selected, wdReceived, wdGone []time.Duration
	for b.Loop() {
		for i := range 100 {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 32)
			routes := append(slices.Clone(base), Route{Prefix: p})
			start := time.Now()
			if err := node.SetRoutes(routes); err != nil {
				b.Fatal(err)
			}
			rcv, sel, err := waitAdded(ctx, l.tor, p, start)
			if err != nil {
				b.Fatal(err)
			}
			received, selected = append(received, rcv), append(selected, sel)
			start = time.Now()
			if err := node.SetRoutes(base); err != nil {
				b.Fatal(err)
			}
			rcv, gone, err := waitGone(ctx, l.tor, p, start)
			if err != nil {
				b.Fatal(err)
			}
			wdReceived, wdGone = append(wdReceived, rcv), append(wdGone, gone)
		}
	}
	reportLatencies(b, "add-received", received)
	reportLatencies(b, "add-selected", selected)
	reportLatencies(b, "withdraw-received", wdReceived)
	reportLatencies(b, "withdraw-gone", wdGone)
}

// BenchmarkThousandRoutes: 1,000 routes (500 IPv4 /32, 500 IPv6 /128) set
// in one call on one node until FRR has them all, then removed in one
// call until FRR has none.
func BenchmarkThousandRoutes(b *testing.B) {
	l, ctx := benchLab(b, labSpec{nodes: 1}, func(l *bgpLab) []Peer { return l.peers(nil) }, nil, (*bgpLab).allNeighbors)
	var routes []Route
	for _, third := range []byte{2, 113} { // 192.0.2.0/24 and 203.0.113.0/24
		first, second := byte(192), byte(0)
		if third == 113 {
			first, second = 203, 0
		}
		for i := range 256 {
			if len(routes) == 500 {
				break
			}
			routes = append(routes, Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{first, second, third, byte(i)}), 32)})
		}
	}
	for i := range 500 {
		a := netip.MustParseAddr("2001:db8:300::").As16()
		a[14], a[15] = byte(i>>8), byte(i)
		routes = append(routes, Route{Prefix: netip.PrefixFrom(netip.AddrFrom16(a), 128)})
	}
	count := func(want int) error {
		for _, f := range []frr.Family{frr.IPv4, frr.IPv6} {
			if _, err := l.tor.WaitRoutes(ctx, f, func(m map[netip.Prefix]frr.Route) bool {
				n := 0
				for _, r := range m {
					if len(r.NextHops()) > 0 {
						n++
					}
				}
				return n == want && len(m) == want
			}); err != nil {
				return err
			}
		}
		return nil
	}
	var adds, removes []time.Duration
	for b.Loop() {
		start := time.Now()
		l.speakers[0].MustSetRoutes(routes)
		if err := count(500); err != nil {
			b.Fatal(err)
		}
		adds = append(adds, time.Since(start))
		start = time.Now()
		l.speakers[0].MustSetRoutes(nil)
		if err := count(0); err != nil {
			b.Fatal(err)
		}
		removes = append(removes, time.Since(start))
	}
	reportLatencies(b, "all-in", adds)
	reportLatencies(b, "all-out", removes)
}

// BenchmarkBFDFailover: one node of two loses its link; the time until FRR
// forwards the /32 over the other node only (BFD 200 ms x 3 on both
// ends). The link is restored, untimed, between iterations.
func BenchmarkBFDFailover(b *testing.B) {
	vip := mustPrefix("203.0.113.10/32")
	l := newBGPLab(b, labSpec{nodes: 2, bfd: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l.startSpeakers(l.peers(func(p *Peer) { withBFD(p) })[:1], []Route{{Prefix: vip}})
	ready := func() {
		l.waitNextHops(ctx, vip, l.nodeAddrs(true))
		l.waitBFD(ctx, l.nodeAddrs(true), nil)
		// A session that just came up may still flap once (see
		// bfdgate.go); let it settle.
		time.Sleep(3 * time.Second)
		l.waitNextHops(ctx, vip, l.nodeAddrs(true))
	}
	ready()
	var failovers []time.Duration
	for b.Loop() {
		failovers = append(failovers, l.cutAndWait(ctx, 0, vip))
		b.StopTimer()
		if err := l.lab.Nodes[0].SetLink(true); err != nil {
			b.Fatal(err)
		}
		ready()
		b.StartTimer()
	}
	reportLatencies(b, "failover", failovers)
	b.ReportMetric(float64(len(failovers)), "failovers")
	fmt.Fprintf(b.Output(), "failovers: %v\n", failovers)
}
