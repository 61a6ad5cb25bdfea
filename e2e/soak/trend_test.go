package soak

import (
	"math"
	"testing"
)

// series makes samples every 10 s from 0 to end (seconds) with value f(t)
// and incarnation inc(t).
func series(end float64, inc func(t float64) int, f func(t float64) float64) []Point {
	var out []Point
	for t := 0.0; t <= end; t += 10 {
		out = append(out, Point{T: t, Inc: inc(t), V: f(t)})
	}
	return out
}

func one(float64) int { return 1 }

// every restarts the process every period seconds.
func every(period float64) func(float64) int {
	return func(t float64) int { return 1 + int(t/period) }
}

func TestJudge(t *testing.T) {
	rule := Rule{From: 900, To: 1800, Warmup: 60, Rel: 0.1, Floor: 5}
	noise := func(t float64) float64 { return 3 * math.Sin(t/7) }
	for _, tc := range []struct {
		name    string
		points  []Point
		up      bool
		invalid bool
	}{
		{"flat with noise", series(1800, one, func(t float64) float64 { return 100 + noise(t) }), false, false},
		{"steady growth", series(1800, one, func(t float64) float64 { return 100 + t/60 }), true, false},
		{"growth below the relative limit", series(1800, one, func(t float64) float64 { return 100 + t/300 }), false, false},
		{"growth below the floor on a small value", series(1800, one, func(t float64) float64 { return 10 + t/300 }), false, false},
		{"shrinking", series(1800, one, func(t float64) float64 { return 200 - t/20 }), false, false},
		// Each restart comes back higher but no process grows: no leak.
		{"restarts at rising levels, flat between", series(1800, every(300), func(t float64) float64 { return 100 + 20*float64(int(t/300)) }), false, false},
		// Each process grows and is reset by a restart: a whole-series fit
		// sees a flat sawtooth, the per-incarnation fit the leak.
		{"sawtooth of leaking processes", series(1800, every(300), func(t float64) float64 { return 100 + (t-300*float64(int(t/300)))/5 }), true, false},
		// A fresh process fills its caches for its first minute.
		{"growth only in each warm-up", series(1800, every(300), func(t float64) float64 {
			return 100 + math.Min(t-300*float64(int(t/300)), 50)
		}), false, false},
		{"missing values are skipped", append(series(1800, one, func(t float64) float64 { return 100 + t/60 }), Point{T: 1700, Inc: 1, V: math.NaN()}), true, false},
		{"too few samples", []Point{{T: 1000, Inc: 1, V: 1}, {T: 1010, Inc: 1, V: 2}}, false, true},
		{"one sample per incarnation", []Point{{T: 1000, Inc: 1, V: 1}, {T: 1100, Inc: 2, V: 2}, {T: 1200, Inc: 3, V: 3}}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := rule.Judge(tc.points)
			if (v.Err != nil) != tc.invalid {
				t.Fatalf("Err = %v, want invalid=%v", v.Err, tc.invalid)
			}
			if v.Up != tc.up {
				t.Errorf("Up = %v (growth %.2f, limit %.2f, slope %.4g/s over %d samples), want %v", v.Up, v.Growth, v.Limit, v.Slope, v.N, tc.up)
			}
		})
	}
}

func TestJudgeSlopeIsExact(t *testing.T) {
	v := Rule{From: 0, To: 100, Rel: 0.1, Floor: 1}.Judge(series(100, one, func(t float64) float64 { return 2*t + 7 }))
	if math.Abs(v.Slope-2) > 1e-9 || math.Abs(v.Growth-200) > 1e-9 || v.N != 11 {
		t.Errorf("slope %v growth %v n %d, want 2, 200, 11", v.Slope, v.Growth, v.N)
	}
}

func TestJudgeCountsLives(t *testing.T) {
	rule := Rule{From: 900, To: 1800, Warmup: 60, Rel: 0.1, Floor: 5}
	v := rule.Judge(series(1800, every(300), func(float64) float64 { return 10 }))
	// A life every 300 s; in the window [900, 1800] those started at
	// 900, 1200 and 1500 have samples after their 60 s warm-up, each from
	// +60 to +290 (230 s); the one started at 1800 has none.
	if v.Incarnations != 3 || v.Longest != 230 {
		t.Errorf("lives %d, longest %v s; want 3 and 230", v.Incarnations, v.Longest)
	}
}
