package l2sync

import (
	"net/netip"

	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/reach"
)

// Announced lists the addresses this node claims and can answer for, with
// their Services and any conflict the layer 2 engine found, for the
// reachability check. Nothing while the speaker holds its claims back.
func (s *Syncer) Announced() []reach.Target {
	s.mu.Lock()
	snap := s.last
	s.mu.Unlock()
	if snap == nil {
		return nil
	}
	state := map[netip.Addr]layer2.Announcement{}
	for _, a := range s.Announcer.State() {
		state[a.IP] = a
	}
	out := make([]reach.Target, 0, len(snap.claims))
	for _, c := range snap.claims {
		a, known := state[c.IP]
		if known && !canAnswer(a) {
			continue // the status does not name this node either
		}
		t := reach.Target{IP: c.IP, Services: snap.plan.Owners[c.IP].Services}
		if conflict := conflictOf(a); conflict != nil {
			t.Conflict = conflict.MAC
		}
		out = append(out, t)
	}
	return out
}

// StatusChanged has the status written again (a verdict changed).
func (s *Syncer) StatusChanged() {
	if s.statusQueue != nil {
		s.statusQueue.Add(statusKey)
	}
}
