package bgp

import (
	"fmt"
	"time"
)

// StallLimit is how long one call into GoBGP may take before Stalled
// reports the engine stuck. Calls take milliseconds. GoBGP 4.8.0 was seen
// to deadlock for good when a BFD session reset raced a peer's deletion
// (every later change and status read then waited forever); the speaker
// now orders its calls so that this cannot happen (bfdstop.go), and this
// check stays as the backstop for whatever else may hang GoBGP.
const StallLimit = time.Minute

func (s *Speaker) lock() {
	s.mu.Lock()
	s.lockedAt.Store(time.Now().UnixNano())
}

func (s *Speaker) unlock() {
	s.lockedAt.Store(0)
	s.mu.Unlock()
}

// Stalled returns an error when a call into GoBGP has been running for
// longer than StallLimit: the speaker can no longer change or withdraw a
// route, and only a restart (graceful: the routers keep its routes
// meanwhile) gets it going again. It is the speaker's liveness check.
func (s *Speaker) Stalled(now time.Time) error {
	return stalled(s.lockedAt.Load(), now, StallLimit)
}

func stalled(lockedAt int64, now time.Time, limit time.Duration) error {
	if lockedAt == 0 {
		return nil
	}
	if d := now.Sub(time.Unix(0, lockedAt)); d > limit {
		return fmt.Errorf("bgp: a call into the BGP engine has not returned for %v (limit %v): the engine is stuck", d.Round(time.Second), limit)
	}
	return nil
}
