package soak

import (
	"testing"
	"time"
)

func TestEventLedgerCountsEmissionsInTheWindow(t *testing.T) {
	alloc := EventClass{Type: "Normal", Reason: "IPAllocated", Source: "ironlb-controller", Kind: "Service"}
	warn := EventClass{Type: "Warning", Reason: "L2Withdrawn", Source: "ironlb-speaker", Kind: "Service"}
	var l EventLedger
	steps := []struct {
		at   time.Duration
		evs  []EventObs
		want int
	}{
		{0, []EventObs{{UID: "a", Class: alloc, Object: "s1", Count: 1}}, 1},
		// a repeated: its count grows by 2; b is new with count 3.
		{10 * time.Second, []EventObs{{UID: "a", Class: alloc, Object: "s1", Count: 3}, {UID: "b", Class: warn, Object: "s1", Count: 3}}, 6},
		// The API server did not list a (it expired): nothing is lost or added.
		{20 * time.Second, []EventObs{{UID: "b", Class: warn, Object: "s1", Count: 3}}, 6},
		// Objects that stay (etcd renewed their lease) add nothing once
		// the window has passed their emissions.
		{5*time.Minute + 15*time.Second, []EventObs{{UID: "b", Class: warn, Object: "s1", Count: 3}, {UID: "c", Class: alloc, Object: "s2"}}, 1},
		{11 * time.Minute, []EventObs{{UID: "b", Class: warn, Object: "s1", Count: 3}, {UID: "c", Class: alloc, Object: "s2"}}, 0},
	}
	for _, s := range steps {
		if got := l.Observe(s.at, s.evs); got != s.want {
			t.Errorf("at %v: %d emissions in the window, want %d", s.at, got, s.want)
		}
	}
	rows := l.Rows()
	want := []EventRow{
		{EventClass: alloc, Objects: 2, Emissions: 4, Involved: 2},
		{EventClass: warn, Objects: 1, Emissions: 3, Involved: 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
}
