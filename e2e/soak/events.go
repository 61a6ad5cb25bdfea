package soak

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// EventWindow is how far back the judged Events series counts emissions:
// the API server's --event-ttl of the run.
const EventWindow = 5 * time.Minute

// EventObs is one Event object as listed at a sample.
type EventObs struct {
	UID string
	// Class says what emitted it about what.
	Class EventClass
	// Object is the involved object (kind/namespace/name).
	Object string
	// Count is how many times the recorder reported it (an Event repeated
	// within its correlation window is one object whose count grows).
	Count int
}

// EventClass groups Events for the report.
type EventClass struct {
	Type, Reason, Source, Kind string
}

// EventRow is one class of Events seen during a run.
type EventRow struct {
	EventClass
	// Objects: Event objects seen; Emissions: the recorder's reports they
	// add up to; Involved: distinct involved objects.
	Objects, Emissions, Involved int
}

// EventLedger follows every Event object seen over a run, so that the
// emissions can be counted however long the API server keeps the objects.
// (Event objects expire with an etcd lease, and etcd grants every lease a
// fresh TTL when it restarts: after an etcd kill the API server holds all
// the Events since the previous expiry, not the last five minutes'. Their
// number is no measure of the rate.)
type EventLedger struct {
	count    map[string]int        // UID -> last count seen
	class    map[string]EventClass // UID -> class
	involved map[EventClass]map[string]bool
	recent   []emitted
}

type emitted struct {
	at time.Duration
	n  int
}

// Observe records a listing of every Event taken at at and returns the
// emissions in the EventWindow up to at: new objects count their count,
// known ones the growth of their count since they were last seen.
func (l *EventLedger) Observe(at time.Duration, evs []EventObs) int {
	if l.count == nil {
		l.count, l.class, l.involved = map[string]int{}, map[string]EventClass{}, map[EventClass]map[string]bool{}
	}
	n := 0
	for _, e := range evs {
		c := max(e.Count, 1)
		if prev, ok := l.count[e.UID]; !ok || c > prev {
			n += c - prev
			l.count[e.UID] = c
		}
		l.class[e.UID] = e.Class
		if l.involved[e.Class] == nil {
			l.involved[e.Class] = map[string]bool{}
		}
		l.involved[e.Class][e.Object] = true
	}
	l.recent = append(l.recent, emitted{at, n})
	total := 0
	keep := l.recent[:0]
	for _, r := range l.recent {
		if at-r.at < EventWindow {
			keep = append(keep, r)
			total += r.n
		}
	}
	l.recent = keep
	return total
}

// Rows are the classes of Events seen, most emissions first.
func (l *EventLedger) Rows() []EventRow {
	rows := map[EventClass]*EventRow{}
	for uid, c := range l.class {
		r := rows[c]
		if r == nil {
			r = &EventRow{EventClass: c, Involved: len(l.involved[c])}
			rows[c] = r
		}
		r.Objects++
		r.Emissions += l.count[uid]
	}
	out := make([]EventRow, 0, len(rows))
	for _, k := range slices.Collect(maps.Keys(rows)) {
		out = append(out, *rows[k])
	}
	slices.SortFunc(out, func(a, b EventRow) int {
		return cmp.Or(b.Emissions-a.Emissions, cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Source, b.Source),
			cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Type, b.Type))
	})
	return out
}
