package speakerscale

import (
	"math"
	"testing"
	"time"
)

func TestCostOf(t *testing.T) {
	for _, tc := range []struct {
		name          string
		used, elapsed time.Duration
		before, after float64 // idle CPU per wall time
		wantUS, noise float64
	}{
		// 200 changes over 12 s at 20 ms/s idle: 240 ms idle, 60 ms work.
		{"steady idle", 300 * time.Millisecond, 12 * time.Second, 0.020, 0.020, 300, 100},
		// The idle rate moved by 10 ms/s: half of it over 12 s is 60 ms,
		// 300 µs per change of noise beside the 100 µs of the clock.
		{"idle moved", 300 * time.Millisecond, 12 * time.Second, 0.015, 0.025, 300, 400},
		// Less CPU than the idle mean: negative, but within the noise.
		{"cheaper than idle noise", 200 * time.Millisecond, 12 * time.Second, 0.015, 0.025, -200, 400},
	} {
		c := costOf(tc.used, tc.elapsed, tc.before, tc.after, 200)
		if math.Abs(c.us-tc.wantUS) > 1e-6 || math.Abs(c.noiseUS-tc.noise) > 1e-6 {
			t.Errorf("%s: %v µs ± %v, want %v ± %v", tc.name, c.us, c.noiseUS, tc.wantUS, tc.noise)
		}
	}
}
