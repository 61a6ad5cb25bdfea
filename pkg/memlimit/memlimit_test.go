package memlimit

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"268435456", 256 << 20, false}, // the downward API's form
		{"256Mi", 256 << 20, false},
		{"1G", 1e9, false},
		{"lots", 0, true},
		{"-1", 0, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSoft(t *testing.T) {
	for _, tc := range []struct {
		name      string
		container int64
		env       string
		want      int64
	}{
		{"90% of the container limit", 256 << 20, "", 256 << 20 * 9 / 10},
		{"no container limit: none", 0, "", 0},
		{"the operator's GOMEMLIMIT wins", 256 << 20, "200MiB", 0},
		{"the operator's GOMEMLIMIT wins without a container limit", 0, "off", 0},
		{"an overflowing limit: none", math.MaxInt64, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Soft(tc.container, tc.env)
			if d.Limit != tc.want || d.Why == "" {
				t.Errorf("Soft(%d, %q) = %+v; want limit %d with a reason", tc.container, tc.env, d, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	Apply(100<<20, "")
	if got := debug.SetMemoryLimit(-1); got != 90<<20 {
		t.Errorf("runtime soft limit %d after Apply(100 MiB); want %d", got, 90<<20)
	}
	Apply(200<<20, "80MiB") // the operator's setting: left alone
	if got := debug.SetMemoryLimit(-1); got != 90<<20 {
		t.Errorf("runtime soft limit %d after Apply with GOMEMLIMIT set; want it unchanged (%d)", got, 90<<20)
	}
}
