package bgp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ironlb/ironlb/pkg/cputime"
)

// routeSpeaker runs a speaker holding n routes for one peer. The peer is a
// listener of the benchmark's own on ::1 that accepts and stays silent: no
// packet leaves the host, and the session never opens (GoBGP keeps the
// routes in the peer's VRF all the same).
func routeSpeaker(b *testing.B, n int) (*Speaker, []Route) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.Cleanup(func() { _ = c.Close() })
		}
	}()
	sp, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	if err := sp.SetPeers([]Peer{{Name: "lo", MyASN: 64512, PeerASN: 64500, Address: netip.IPv6Loopback(), Port: port, HoldTime: 90 * time.Second}}); err != nil {
		b.Fatal(err)
	}
	routes := make([]Route, n)
	for i := range routes {
		routes[i] = Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8:300::%x/128", i+1))}
	}
	if err := sp.SetRoutes(routes); err != nil {
		b.Fatal(err)
	}
	// Run may start GoBGP after the calls above: wait until the peer's VRF
	// holds every route.
	for {
		sp.mu.Lock()
		ap := sp.applied["lo"]
		held := ap != nil && len(ap.routes) == n
		sp.mu.Unlock()
		if held {
			return sp, routes
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkRouteChange measures the CPU the embedded GoBGP speaker spends
// on one route's change (its communities flip) while it holds 1,000 or
// 10,000 routes for a peer: handed over as that one prefix (UpdateRoutes,
// what bgpsync does) and, for comparison, as the whole set (SetRoutes).
func BenchmarkRouteChange(b *testing.B) {
	type size struct {
		sp     *Speaker
		routes []Route
	}
	var sizes []size
	for _, n := range []int{1000, 10000} {
		sp, routes := routeSpeaker(b, n)
		sizes = append(sizes, size{sp, routes})
	}
	const rounds = 200
	change := func(s size, i int, whole bool) {
		j := (i * 7919) % len(s.routes)
		r := &s.routes[j]
		if len(r.Communities) == 0 {
			r.Communities = []uint32{community(64500, 1)}
		} else {
			r.Communities = nil
		}
		var err error
		if whole {
			err = s.sp.SetRoutes(s.routes)
		} else {
			err = s.sp.UpdateRoutes([]netip.Prefix{r.Prefix}, []Route{*r})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	var update, set [2]time.Duration
	n := 0
	for b.Loop() {
		for k, s := range sizes {
			runtime.GC()
			start := cputime.Used()
			for i := range rounds {
				change(s, n*rounds+i, false)
			}
			update[k] += cputime.Used() - start
			runtime.GC()
			start = cputime.Used()
			for i := range rounds / 10 { // the whole set is slow: fewer rounds
				change(s, n*rounds+i, true)
			}
			set[k] += cputime.Used() - start
		}
		n++
	}
	us := func(d time.Duration, rounds int) float64 { return float64(d.Microseconds()) / float64(n*rounds) }
	b.ReportMetric(us(update[0], rounds), "update-1k-cpu-us")
	b.ReportMetric(us(update[1], rounds), "update-10k-cpu-us")
	b.ReportMetric(float64(update[1])/float64(max(update[0], 1)), "update-ratio")
	b.ReportMetric(us(set[0], rounds/10), "set-1k-cpu-us")
	b.ReportMetric(us(set[1], rounds/10), "set-10k-cpu-us")
}
