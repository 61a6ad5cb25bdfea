package main

import "testing"

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		metric        string
		max, v, noise float64
		want          string
	}{
		{"service-10k-cpu-us", 1000, 999, 0, "yes"},
		{"service-10k-cpu-us", 1000, 1001, 0, "**no**"},
		{"service-10k-cpu-us", 1000, -41, 0, "**invalid** (negative)"},
		{"service-ratio", 1.5, -0.03, 0, "**invalid** (negative)"},
		{"service-ratio", 1.5, 1.2, 0, "yes"},
		{"failed-per-restart", 1, 0, 0, "yes"},
		{"throughput-rps", -1000, 1200, 0, "yes"}, // a minimum
		{"throughput-rps", -1000, 800, 0, "**no**"},
		// Figures within their idle noise say only "below the noise".
		{"node-label-10k-cpu-us", 1000, -41, 60, "yes (below the idle noise, 60 µs)"},
		{"node-label-10k-cpu-us", 1000, 41, 60, "yes (below the idle noise, 60 µs)"},
		{"node-label-10k-cpu-us", 10, 5, 60, "**unknown** (below the idle noise, 60 µs, which exceeds the target)"},
		{"node-label-ratio", 1.5, -0.03, 60, "n/a (a figure is below its idle noise, 60 µs)"},
	} {
		if got := verdict(target{metric: tc.metric, max: tc.max}, tc.v, tc.noise); got != tc.want {
			t.Errorf("verdict(%s < %v, %v) = %q, want %q", tc.metric, tc.max, tc.v, got, tc.want)
		}
	}
}

func TestNoiseOf(t *testing.T) {
	m := map[string]float64{
		"node-label-1k-cpu-us": 80, "node-label-1k-noise-us": 50, // beyond its noise
		"node-label-10k-cpu-us": -41, "node-label-10k-noise-us": 60, // within
		"service-10k-cpu-us": 900, // no noise reported
	}
	for metric, want := range map[string]float64{
		"node-label-1k-cpu-us":  0,
		"node-label-10k-cpu-us": 60,
		"node-label-ratio":      60,
		"service-10k-cpu-us":    0,
		"service-ratio":         0,
		"speaker-peak-rss-MiB":  0,
	} {
		if got := noiseOf(metric, m); got != want {
			t.Errorf("noiseOf(%s) = %v, want %v", metric, got, want)
		}
	}
}
