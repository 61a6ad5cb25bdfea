package soak

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
)

func TestFailedByCause(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	faults := &faultLog{windows: []*window{{kind: "node-loss", from: at(10), to: at(12)},
		// Over in 0.1 s, every VIP answering 9 s later.
		{kind: "frr-restart", from: at(200), to: at(200.1), recovered: 9 * time.Second}}}
	ch := &churner{moved: map[string][]time.Time{"bgp-local": {at(100)}}}
	lan, local, bgp := netip.MustParseAddrPort("192.0.2.10:80"), netip.MustParseAddrPort("203.0.113.129:80"), netip.MustParseAddrPort("203.0.113.128:80")
	serviceOf := map[netip.AddrPort]string{lan: "lan", local: "bgp-local", bgp: "bgp"}
	counts := map[netip.AddrPort]cluster.Counts{
		// In flight when the fault started, in the fault, in its grace,
		// after it, sent before it and answered (or not) before it started.
		lan: {FailedSent: []time.Time{at(10 - requestTimeout.Seconds() + 0.1), at(11), at(12 + failureGrace.Seconds() - 0.1), at(12 + failureGrace.Seconds() + 0.1), at(10 - requestTimeout.Seconds() - 0.1)}},
		// In flight when its pods moved, sent while they had just moved,
		// long before, long after.
		local: {FailedSent: []time.Time{at(99.5), at(100 + failureGrace.Seconds() - 0.1), at(98.5), at(100 + failureGrace.Seconds() + 0.1)}},
		// Sent while the routes were still coming back after the
		// restart, in the grace after they were back, and after that.
		bgp: {FailedSent: []time.Time{at(205), at(209.1 + failureGrace.Seconds() - 0.1), at(209.1 + failureGrace.Seconds() + 0.1)}},
	}
	byCause, unexplained := failedByCause(faults, ch, counts, serviceOf)
	if want := map[string]int{"node-loss": 3, "frr-restart": 2, "endpoints-moved": 2, "none": 5}; !maps.Equal(byCause, want) {
		t.Errorf("by cause %v, want %v", byCause, want)
	}
	if want := map[string]int{"lan 192.0.2.10:80": 2, "bgp-local 203.0.113.129:80": 2, "bgp 203.0.113.128:80": 1}; !maps.Equal(unexplained, want) {
		t.Errorf("unexplained %v, want %v", unexplained, want)
	}
}
