package l2sync

import (
	"net/netip"
	"testing"
	"time"
)

// The memory of the events sent follows what the status passes decide:
// a status this node still writes keeps its event, one it stopped writing
// is remembered for eventMemory (a flap is not news) and then forgotten.
func TestEventMemoryKeepsFlappingStatusesAndDropsGoneOnes(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	s := &Syncer{events: map[netip.Addr]map[string]sentEvent{
		a: {
			"default/written": {text: "a", dropped: now.Add(-time.Hour)},
			"default/stopped": {text: "b"},
		},
		b: {
			"default/flapped":  {text: "c", dropped: now.Add(-eventMemory / 2)},
			"default/gone":     {text: "d", dropped: now.Add(-eventMemory - time.Second)},
			"default/just-now": {text: "e"},
		},
	}}
	s.keepEvents(a, []string{"default/written"}, now)
	s.expireEvents(now)
	want := map[netip.Addr]map[string]sentEvent{
		a: {
			"default/written": {text: "a"},               // written again: kept
			"default/stopped": {text: "b", dropped: now}, // no longer written: remembered from now
		},
		b: {
			"default/flapped":  {text: "c", dropped: now.Add(-eventMemory / 2)},
			"default/just-now": {text: "e"},
		},
	}
	if len(s.events) != len(want) {
		t.Fatalf("events %v, want %v", s.events, want)
	}
	for ip, m := range want {
		if len(s.events[ip]) != len(m) {
			t.Fatalf("%s: events %v, want %v", ip, s.events[ip], m)
		}
		for k, w := range m {
			if got := s.events[ip][k]; got != w {
				t.Errorf("%s %s: %+v, want %+v", ip, k, got, w)
			}
		}
	}
	// Forgotten once this node stops writing them, after eventMemory.
	s.keepEvents(a, nil, now)
	s.keepEvents(b, nil, now)
	s.expireEvents(now.Add(eventMemory + time.Second))
	if len(s.events) != 0 {
		t.Fatalf("events %v after eventMemory, want none", s.events)
	}
}
