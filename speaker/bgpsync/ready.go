package bgpsync

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ironlb/ironlb/speaker/bgp"
)

// PeerWait is how long a starting speaker waits for its BGP sessions
// before it calls itself ready without them: a router that is down must
// not hold a rollout forever, only slow it.
const PeerWait = 30 * time.Second

// Ready is the BGP part of the speaker's readiness: an error until the
// routes have been handed to the engine and every session of this node is
// Established (or PeerWait has passed since the syncer was set up). A
// DaemonSet rollout moves to the next node only once this one is ready, so
// no two nodes' routes are missing from the routers at once. Once ready it
// stays ready: a session lost later shows in BGPSessionStatus and the
// metrics, and must not hold up the next rollout.
func (s *Syncer) Ready(now time.Time) error {
	s.mu.Lock()
	ready, routed, started := s.ready, s.routed, s.started
	s.mu.Unlock()
	if ready {
		return nil
	}
	if err := startupReady(routed, s.Speaker.Status(), now.Sub(started), PeerWait); err != nil {
		return err
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	return nil
}

// startupReady is the rule of Ready before it first holds.
func startupReady(routed bool, peers []bgp.PeerStatus, waited, limit time.Duration) error {
	if !routed {
		return errors.New("bgp: routes not yet handed to the BGP engine")
	}
	var waiting []string
	for _, p := range peers {
		if p.State != bgp.StateEstablished {
			waiting = append(waiting, fmt.Sprintf("%s (%s)", p.Name, p.State))
		}
	}
	if len(waiting) == 0 || waited >= limit {
		return nil
	}
	return fmt.Errorf("bgp: waiting for sessions to be established: %s (%v of at most %v)",
		strings.Join(waiting, ", "), waited.Round(time.Second), limit)
}
