package cputime

import "testing"

// Busy work shows up as CPU time.
func TestUsedGrowsWithWork(t *testing.T) {
	before := Used()
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	if after := Used(); after <= before {
		t.Fatalf("CPU time did not grow over busy work (%d): before %v, after %v", x, before, after)
	}
}
