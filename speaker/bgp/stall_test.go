package bgp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestStalled(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		lockedAt int64
		want     string
	}{
		{"free", 0, ""},
		{"a call just started", now.Add(-time.Second).UnixNano(), ""},
		{"at the limit", now.Add(-time.Minute).UnixNano(), ""},
		{"past the limit", now.Add(-90 * time.Second).UnixNano(), "has not returned for 1m30s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := stalled(tt.lockedAt, now, time.Minute)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("stalled: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("stalled: %v, want %q", err, tt.want)
			}
		})
	}
}

// A speaker holding its lock (as during a call into GoBGP) reports the
// stall once the limit has passed, and not after it lets go.
func TestSpeakerStalledWhileLocked(t *testing.T) {
	s, err := New(Options{RouterID: netip.MustParseAddr("198.51.100.11")})
	if err != nil {
		t.Fatal(err)
	}
	s.lock()
	if err := s.Stalled(time.Now().Add(StallLimit + time.Second)); err == nil {
		t.Error("Stalled while locked past the limit: nil")
	}
	s.unlock()
	if err := s.Stalled(time.Now().Add(StallLimit + time.Second)); err != nil {
		t.Errorf("Stalled after unlock: %v", err)
	}
}
