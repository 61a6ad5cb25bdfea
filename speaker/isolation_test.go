package main

import (
	"testing"
	"time"
)

func TestNextIsolation(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const grace = 750 * time.Millisecond
	type step struct {
		at         time.Duration
		linkUp     bool
		peersAlive bool
		silent     bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a node never cut off answers", []step{
			{0, true, true, false},
			{time.Second, true, false, false}, // its peers died: it is the survivor
		}},
		{"link down: silent at once, whatever the view", []step{
			{0, false, true, true},
			{100 * time.Millisecond, false, false, true},
		}},
		{"link back: silent until a peer is heard", []step{
			{0, false, false, true},
			{time.Second, true, false, true},
			{time.Second + 300*time.Millisecond, true, false, true},
			{time.Second + 400*time.Millisecond, true, true, false},
			{time.Second + 500*time.Millisecond, true, false, false}, // later deaths are real
		}},
		{"link back, every peer gone: answers after the grace", []step{
			{0, false, false, true},
			{time.Second, true, false, true},
			{time.Second + grace - time.Millisecond, true, false, true},
			{time.Second + grace, true, false, false},
		}},
		{"a flap shorter than the liveness timeout: the peers stayed alive", []step{
			{0, false, true, true},
			{100 * time.Millisecond, true, true, false},
		}},
		{"down again during the grace starts over", []step{
			{0, false, false, true},
			{time.Second, true, false, true},
			{time.Second + 500*time.Millisecond, false, false, true},
			{time.Second + 600*time.Millisecond, true, false, true},
			{time.Second + 600*time.Millisecond + grace - time.Millisecond, true, false, true},
			{time.Second + 600*time.Millisecond + grace, true, false, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st isolationState
			for i, s := range tc.steps {
				var silent bool
				st, silent = nextIsolation(st, s.linkUp, s.peersAlive, t0.Add(s.at), grace)
				if silent != s.silent {
					t.Errorf("step %d (at %v, link up %v, peers alive %v): silent %v, want %v", i, s.at, s.linkUp, s.peersAlive, silent, s.silent)
				}
			}
		})
	}
}
