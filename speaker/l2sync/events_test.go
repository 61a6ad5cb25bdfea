package l2sync

import (
	"testing"
	"time"
)

func TestForgetEventsKeepsFlappingStatusesAndDropsGoneOnes(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := &Syncer{events: map[string]sentEvent{
		"default/written":  {text: "a", wanted: now.Add(-time.Hour)},
		"default/flapped":  {text: "b", wanted: now.Add(-eventMemory / 2)},
		"default/gone":     {text: "c", wanted: now.Add(-eventMemory - time.Second)},
		"default/just-now": {text: "d", wanted: now},
	}}
	s.forgetEvents(map[string]bool{"default/written": true}, now)
	want := map[string]sentEvent{
		"default/written":  {text: "a", wanted: now}, // written now: kept, and its time refreshed
		"default/flapped":  {text: "b", wanted: now.Add(-eventMemory / 2)},
		"default/just-now": {text: "d", wanted: now},
	}
	if len(s.events) != len(want) {
		t.Fatalf("events %v, want %v", s.events, want)
	}
	for k, w := range want {
		if got := s.events[k]; got != w {
			t.Errorf("%s: %+v, want %+v", k, got, w)
		}
	}
}
