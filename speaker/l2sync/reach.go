package l2sync

import (
	"github.com/ironlb/ironlb/speaker/reach"
)

// Announced lists the addresses this node claims and can answer for, with
// their Services and any conflict the layer 2 engine found, for the
// reachability check. Nothing while the speaker holds its claims back.
func (s *Syncer) Announced() []reach.Target {
	s.mu.Lock()
	claims, active := s.claimsNow, s.active
	s.mu.Unlock()
	if !active {
		return nil
	}
	answerable := s.answerable(claims)
	out := make([]reach.Target, 0, len(answerable))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range answerable {
		t := reach.Target{IP: c.IP, Services: s.plan.Owners[c.IP].Services}
		if conflict := conflictOf(c.state); conflict != nil {
			t.Conflict = conflict.MAC
		}
		out = append(out, t)
	}
	return out
}

// StatusChanged has the status written again (a verdict changed: the
// next pass finds which of this node's claims it concerns).
func (s *Syncer) StatusChanged() {
	s.mu.Lock()
	s.verdictsChanged = true
	s.mu.Unlock()
	if s.statusQueue != nil {
		s.statusQueue.Add(statusKey)
	}
}
