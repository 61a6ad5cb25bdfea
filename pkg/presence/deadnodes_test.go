package presence

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDeadNodesRoundTrip(t *testing.T) {
	t1 := time.Date(2026, 12, 6, 8, 40, 1, 123_000_000, time.UTC)
	t2 := time.Date(2026, 12, 6, 8, 41, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		in   map[string]time.Time
		want string
	}{
		{"none", nil, ""},
		{"one", map[string]time.Time{"node2": t1}, "node2=2026-12-06T08:40:01.123Z"},
		{"sorted by name, in UTC", map[string]time.Time{"node3": t2, "node2": t1}, "node2=2026-12-06T08:40:01.123Z,node3=2026-12-06T07:41:00.000Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FormatDeadNodes(tc.in)
			if got != tc.want {
				t.Fatalf("FormatDeadNodes = %q, want %q", got, tc.want)
			}
			back, err := ParseDeadNodes(got)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(tc.in) {
				t.Fatalf("ParseDeadNodes(%q) = %v, want %v", got, back, tc.in)
			}
			for n, at := range tc.in {
				if !back[n].Equal(at) {
					t.Errorf("%s: %v, want %v", n, back[n], at)
				}
			}
		})
	}
}

func TestParseDeadNodes(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 40, 1, 0, time.UTC)
	for _, tc := range []struct {
		in      string
		want    map[string]time.Time
		wantErr string // part of the error; "" for none
	}{
		{"", map[string]time.Time{}, ""},
		{"  ", map[string]time.Time{}, ""},
		{"node2=2026-12-06T08:40:01Z", map[string]time.Time{"node2": at}, ""},
		{"node2=2026-12-06T08:40:01Z, node3=2026-12-06T08:40:01Z", map[string]time.Time{"node2": at, "node3": at}, ""},
		{"node2", nil, `entry 0 "node2": want NODE=TIME`},
		{"=2026-12-06T08:40:01Z", nil, "want NODE=TIME"},
		{"node2=yesterday", nil, `ironlb.io/dead-nodes, entry 0 "node2=yesterday": time`},
		{"node2=2026-12-06T08:40:01Z,node2=2026-12-06T08:40:01Z", nil, `entry 1: node "node2" listed twice`},
	} {
		got, err := ParseDeadNodes(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseDeadNodes(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseDeadNodes(%q): error %v, want one containing %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && !reflect.DeepEqual(got, tc.want):
			t.Errorf("ParseDeadNodes(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
