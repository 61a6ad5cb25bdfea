package main

import "testing"

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		metric string
		max, v float64
		want   string
	}{
		{"service-10k-cpu-us", 1000, 999, "yes"},
		{"service-10k-cpu-us", 1000, 1001, "**no**"},
		{"service-10k-cpu-us", 1000, -41, "**invalid** (negative)"},
		{"service-ratio", 1.5, -0.03, "**invalid** (negative)"},
		{"service-ratio", 1.5, 1.2, "yes"},
		{"failed-per-restart", 1, 0, "yes"},
		{"throughput-rps", -1000, 1200, "yes"}, // a minimum
		{"throughput-rps", -1000, 800, "**no**"},
	} {
		if got := verdict(target{metric: tc.metric, max: tc.max}, tc.v); got != tc.want {
			t.Errorf("verdict(%s < %v, %v) = %q, want %q", tc.metric, tc.max, tc.v, got, tc.want)
		}
	}
}
