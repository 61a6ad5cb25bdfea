package presence

import (
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := NewWatch(t0)
	for _, step := range []struct {
		ms      int
		renewal string
		alive   bool
	}{
		{0, "", true},       // just started: benefit of the doubt
		{1100, "", true},    // still within Timeout of the start
		{1200, "", false},   // no Lease ever: no speaker
		{1300, "a@1", true}, // a renewal brings them back
		{2500, "a@2", true},
		{3600, "a@2", true},  // 1.1 s after the last new renewal
		{3700, "a@2", false}, // the same renewal read again is no renewal
		{3800, "b@3", true},  // another writer took over
	} {
		if got := w.Observe(step.renewal, at(step.ms)); got != step.alive {
			t.Fatalf("at %d ms with %q: alive %v, want %v", step.ms, step.renewal, got, step.alive)
		}
	}
}
