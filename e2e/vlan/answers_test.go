package vlan_test

import (
	"net"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// The overlap check must be able to fail: feed it synthetic captures.
func TestLongestOverlap(t *testing.T) {
	a, _ := net.ParseMAC("02:00:00:00:00:0a")
	b, _ := net.ParseMAC("02:00:00:00:00:0b")
	t0 := time.Unix(1000, 0)
	every := func(mac net.HardwareAddr, from, to time.Duration) []vlan.Frame {
		var out []vlan.Frame
		for d := from; d <= to; d += 10 * time.Millisecond {
			out = append(out, vlan.Frame{Time: t0.Add(d), Src: mac})
		}
		return out
	}
	tests := []struct {
		name   string
		frames []vlan.Frame
		want   time.Duration
	}{
		{"clean hand-over", append(every(a, 0, time.Second), every(b, 1010*time.Millisecond, 2*time.Second)...), 0},
		{"50ms overlap", append(every(a, 0, time.Second), every(b, 950*time.Millisecond, 2*time.Second)...), 50 * time.Millisecond},
		{"split brain", append(every(a, 0, 2*time.Second), every(b, 500*time.Millisecond, 2*time.Second)...), 1500 * time.Millisecond},
		{"a gap ends a span", append(append(every(a, 0, 100*time.Millisecond), every(a, time.Second, 1100*time.Millisecond)...), every(b, 300*time.Millisecond, 600*time.Millisecond)...), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := vlan.LongestOverlap(vlan.AnsweringSpans(tt.frames, 30*time.Millisecond))
			if got != tt.want {
				t.Fatalf("overlap %v, want %v", got, tt.want)
			}
		})
	}
}

// Moves counts the hand-overs: a MAC answering again after a gap is none.
func TestMoves(t *testing.T) {
	a, _ := net.ParseMAC("02:00:00:00:00:0a")
	b, _ := net.ParseMAC("02:00:00:00:00:0b")
	t0 := time.Unix(1000, 0)
	at := func(mac net.HardwareAddr, ms ...int) []vlan.Frame {
		var out []vlan.Frame
		for _, m := range ms {
			out = append(out, vlan.Frame{Time: t0.Add(time.Duration(m) * time.Millisecond), Src: mac})
		}
		return out
	}
	tests := []struct {
		name   string
		frames []vlan.Frame
		want   int
	}{
		{"one answerer", at(a, 0, 10, 500, 510), 0},
		{"failover", append(at(a, 0, 10), at(b, 300, 310)...), 1},
		{"failover and back", append(append(at(a, 0, 10), at(b, 300, 310)...), at(a, 900, 910)...), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := vlan.Moves(vlan.AnsweringSpans(tt.frames, 30*time.Millisecond)); got != tt.want {
				t.Fatalf("%d moves, want %d", got, tt.want)
			}
		})
	}
}
