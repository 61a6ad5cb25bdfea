package ipam

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/pkg/cputime"
)

// cpuMeter starts measuring process CPU time; the returned func reports
// it as cpu-ns/op. Call it right before the b.Loop loop.
func cpuMeter(b *testing.B) func() {
	start := cputime.Used()
	return func() {
		b.ReportMetric(float64(cputime.Used()-start)/float64(b.N), "cpu-ns/op")
	}
}

// Loopback space stands in for a /16: the documentation ranges are /24s.
const big16 = "127.1.0.0/16"

func fill(tb testing.TB, a *Allocator, n int, opts ...opt) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if _, err := a.Allocate(rq(fmt.Sprintf("fill/s%d", i), opts...)); err != nil {
			tb.Fatalf("fill %d: %v", i, err)
		}
	}
}

func TestLargePools(t *testing.T) {
	a := New()
	a.SetPools([]Pool{pl("big", big16), pl("v6", "2001:db8::/64")})
	fill(t, a, 60000)
	// 60000 = 234*256 + 96: the next free address.
	doStep(t, a, 0, step{req: rq("ns/next"), pool: "big", ips: []string{"127.1.234.96"}})
	a.Release(svcKey("fill/s25607")) // 127.1.100.7
	doStep(t, a, 1, step{req: rq("ns/hole"), pool: "big", ips: []string{"127.1.100.7"}})
	if st := a.Stats("big")[IPv4]; st != (Stats{Total: 65536, Assigned: 60001, Available: 65536 - 60001}) {
		t.Fatalf("stats %+v", st)
	}
	fill6 := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := a.Allocate(rq(fmt.Sprintf("v6/s%d", i), fams(IPv6))); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill6(5000)
	doStep(t, a, 2, step{req: rq("ns/v6", fams(IPv6)), pool: "v6", ips: []string{"2001:db8::1388"}})
	if a.used.t.Len() != 3 { // one span per family run plus the v4 tail after the hole fill
		t.Logf("spans: %d", a.used.t.Len())
	}
	mustInvariants(t, a)
}

func bench16(b *testing.B, fragmented bool) {
	a := New()
	a.SetPools([]Pool{pl("big", big16)})
	fill(b, a, 65536)
	// Release 5,536 so 60,000 stay: either the top block or random holes.
	r := rand.New(rand.NewPCG(1, 1))
	released := 0
	for released < 65536-60000 {
		i := 60000 + released
		if fragmented {
			i = r.IntN(65536)
		}
		if a.Release(svcKey(fmt.Sprintf("fill/s%d", i))) != nil {
			released++
		}
	}
	req := rq("bench/one")
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		if _, err := a.Allocate(req); err != nil {
			b.Fatal(err)
		}
		a.Release(req.Service)
	}
}

// BenchmarkAllocate60kOf16: allocate and release one address in a /16
// already holding 60,000 (target < 5 µs/op).
func BenchmarkAllocate60kOf16(b *testing.B) {
	b.Run("contiguous", func(b *testing.B) { bench16(b, false) })
	b.Run("fragmented", func(b *testing.B) { bench16(b, true) })
}

func BenchmarkAllocateIPv6_64(b *testing.B) {
	a := New()
	a.SetPools([]Pool{pl("v6", "2001:db8::/64")})
	fill(b, a, 10000, fams(IPv6))
	req := rq("bench/one", fams(IPv6))
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		if _, err := a.Allocate(req); err != nil {
			b.Fatal(err)
		}
		a.Release(req.Service)
	}
}

// BenchmarkAllocateIdempotent is the controller's reconcile hot path: the
// Service already holds a satisfying allocation.
func BenchmarkAllocateIdempotent(b *testing.B) {
	a := New()
	a.SetPools([]Pool{pl("big", big16)})
	fill(b, a, 60000)
	req := rq("fill/s12345")
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		if _, err := a.Allocate(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetPools: re-attribute 60,000 allocations (full index rebuild).
func BenchmarkSetPools(b *testing.B) {
	a := New()
	pools := []Pool{pl("big", big16), pl("v6", "2001:db8::/64"), pl("other", "192.0.2.0/24")}
	a.SetPools(pools)
	fill(b, a, 60000)
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		if ch := a.SetPools(pools); len(ch.Lost) != 0 {
			b.Fatal("lost allocations")
		}
	}
}

func BenchmarkLowestFreeSparse(b *testing.B) {
	// Worst case for avoidBuggyIPs: every /24 full except .0 and .255.
	s := newAddrSet()
	base := netip.MustParseAddr("127.0.0.0")
	for a := base; a.Less(netip.MustParseAddr("127.0.64.0")); a = a.Next() {
		if !isBuggy(a) {
			s.add(a)
		}
	}
	lo, hi := base, netip.MustParseAddr("127.0.64.255")
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		if got, ok := s.lowestFree(lo, hi, true); !ok || got.String() != "127.0.64.1" {
			b.Fatalf("got %s %v", got, ok)
		}
	}
}
