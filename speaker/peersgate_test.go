package main

import (
	"testing"
	"time"
)

func TestGateReady(t *testing.T) {
	t0 := time.Unix(1000, 0)
	hold := 750 * time.Millisecond
	tests := []struct {
		name      string
		linkUp    bool
		since     time.Time
		now       time.Time
		want      bool
		wantSince time.Time
	}{
		{"just started", true, t0, t0.Add(100 * time.Millisecond), false, t0},
		{"started long enough ago", true, t0, t0.Add(time.Second), true, t0},
		{"link down", false, t0, t0.Add(time.Minute), false, t0.Add(time.Minute)},
		{"link back, still holding", true, t0.Add(time.Minute), t0.Add(time.Minute + 500*time.Millisecond), false, t0.Add(time.Minute)},
		{"link back, hold over", true, t0.Add(time.Minute), t0.Add(time.Minute + time.Second), true, t0.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, since := gateReady(tt.linkUp, tt.since, tt.now, hold)
			if got != tt.want || !since.Equal(tt.wantSince) {
				t.Fatalf("gateReady = %v, %v; want %v, %v", got, since, tt.want, tt.wantSince)
			}
		})
	}
}

// The gate follows the link through a cut-off: ready, down, held after the
// return, ready again.
func TestPeersGateHoldsAfterTheLinkReturns(t *testing.T) {
	now, up := time.Unix(1000, 0), true
	g := &peersGate{hold: 750 * time.Millisecond, linkUp: func() bool { return up }, now: func() time.Time { return now }}
	g.since = now
	steps := []struct {
		advance time.Duration
		up      bool
		want    bool
	}{
		{time.Second, true, true},
		{time.Second, false, false}, // cut off
		{5 * time.Second, false, false},
		{100 * time.Millisecond, true, false}, // back: holding
		{700 * time.Millisecond, true, true},
	}
	for i, s := range steps {
		now, up = now.Add(s.advance), s.up
		if got := g.Ready(); got != s.want {
			t.Fatalf("step %d: Ready() = %v, want %v", i, got, s.want)
		}
	}
}
