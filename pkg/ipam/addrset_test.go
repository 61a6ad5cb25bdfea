package ipam

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestAddrSetMatchesBruteForce drives the span set and a plain map with the
// same random operations over a small window and compares lowestFree.
func TestAddrSetMatchesBruteForce(t *testing.T) {
	for _, base := range []string{"192.0.2.250", "2001:db8::fff0"} {
		r := rand.New(rand.NewPCG(1, 2))
		start := netip.MustParseAddr(base)
		window := make([]netip.Addr, 24) // crosses 192.0.3.0 for the buggy case
		for i, a := 0, start; i < len(window); i, a = i+1, a.Next() {
			window[i] = a
		}
		s := newAddrSet()
		ref := map[netip.Addr]bool{}
		for step := 0; step < 5000; step++ {
			a := window[r.IntN(len(window))]
			if r.IntN(2) == 0 {
				if s.add(a) == ref[a] {
					t.Fatalf("add(%s) result disagrees with reference", a)
				}
				ref[a] = true
			} else {
				if s.remove(a) != ref[a] {
					t.Fatalf("remove(%s) result disagrees with reference", a)
				}
				delete(ref, a)
			}
			if s.len() != len(ref) {
				t.Fatalf("len %d, want %d", s.len(), len(ref))
			}
			lo, hi := r.IntN(len(window)), r.IntN(len(window))
			if lo > hi {
				lo, hi = hi, lo
			}
			for _, avoidBuggy := range []bool{false, true} {
				var want netip.Addr
				for _, c := range window[lo : hi+1] {
					if !ref[c] && !(avoidBuggy && isBuggy(c)) {
						want = c
						break
					}
				}
				got, ok := s.lowestFree(window[lo], window[hi], avoidBuggy)
				if ok != want.IsValid() || got != want {
					t.Fatalf("lowestFree(%s, %s, %v) = %s %v, want %s", window[lo], window[hi], avoidBuggy, got, ok, want)
				}
			}
		}
	}
}

func TestAddrSetEdges(t *testing.T) {
	s := newAddrSet()
	top4 := netip.MustParseAddr("255.255.255.255")
	zero6 := netip.MustParseAddr("::")
	top6 := netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	for _, a := range []netip.Addr{top4, zero6, top6, top4.Prev()} {
		if !s.add(a) {
			t.Fatalf("add(%s) = false", a)
		}
	}
	n := 0
	s.ascend(func(span) bool { n++; return true })
	if n != 3 {
		t.Fatalf("got %d spans, want 3", n)
	}
	if got := keyOf(top4).toAddr(); got != top4 {
		t.Fatalf("key round trip %s", got)
	}
	if _, ok := s.lowestFree(top4.Prev(), top4, false); ok {
		t.Fatalf("lowestFree in a full top range should fail")
	}
	if got, ok := s.lowestFree(zero6, top6, false); !ok || got != zero6.Next() {
		t.Fatalf("lowestFree v6 = %s %v", got, ok)
	}
	if got, ok := s.lowestFree(netip.MustParseAddr("192.0.2.255"), netip.MustParseAddr("192.0.3.1"), true); !ok || got.String() != "192.0.3.1" {
		t.Fatalf("lowestFree skipping buggy = %s %v", got, ok)
	}
	if _, ok := s.lowestFree(netip.MustParseAddr("192.0.2.255"), netip.MustParseAddr("192.0.3.0"), true); ok {
		t.Fatalf("range of only buggy addresses has no free one")
	}
	for _, a := range []netip.Addr{top4, zero6, top6, top4.Prev()} {
		if !s.remove(a) {
			t.Fatalf("remove(%s) = false", a)
		}
	}
	if s.len() != 0 || s.t.Len() != 0 {
		t.Fatalf("not empty after removing all")
	}
}
