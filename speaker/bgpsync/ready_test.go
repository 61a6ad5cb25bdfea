package bgpsync

import (
	"testing"
	"time"

	"github.com/ironlb/ironlb/speaker/bgp"
)

func TestStartupReady(t *testing.T) {
	up := bgp.PeerStatus{Name: "tor-a", State: bgp.StateEstablished}
	connecting := bgp.PeerStatus{Name: "tor-b", State: bgp.StateActive}
	for _, tc := range []struct {
		name   string
		routed bool
		peers  []bgp.PeerStatus
		waited time.Duration
		ready  bool
	}{
		{name: "routes not handed over yet", routed: false, peers: []bgp.PeerStatus{up}, waited: time.Minute},
		{name: "no peers on this node", routed: true, ready: true},
		{name: "every session established", routed: true, peers: []bgp.PeerStatus{up, up}, ready: true},
		{name: "a session still connecting", routed: true, peers: []bgp.PeerStatus{up, connecting}, waited: 5 * time.Second},
		{name: "a session not up after the wait", routed: true, peers: []bgp.PeerStatus{up, connecting}, waited: PeerWait, ready: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := startupReady(tc.routed, tc.peers, tc.waited, PeerWait)
			if (err == nil) != tc.ready {
				t.Fatalf("startupReady = %v, want ready %v", err, tc.ready)
			}
		})
	}
}

// sessions is a Speaker whose only answer is its sessions' states.
type sessions struct {
	Speaker
	status []bgp.PeerStatus
}

func (s *sessions) Status() []bgp.PeerStatus { return s.status }

// Once ready, a session lost later does not make the speaker unready: it
// would hold up the next rollout for a router's fault.
func TestReadyHoldsOnceReached(t *testing.T) {
	sp := &sessions{status: []bgp.PeerStatus{{Name: "tor-a", State: bgp.StateConnect}}}
	now := time.Now()
	s := &Syncer{Speaker: sp, started: now, routed: true}
	if err := s.Ready(now.Add(time.Second)); err == nil {
		t.Fatal("ready while the only session is connecting")
	}
	sp.status[0].State = bgp.StateEstablished
	if err := s.Ready(now.Add(2 * time.Second)); err != nil {
		t.Fatalf("not ready with every session established: %v", err)
	}
	sp.status[0].State = bgp.StateIdle
	if err := s.Ready(now.Add(3 * time.Second)); err != nil {
		t.Fatalf("unready again after a session was lost: %v", err)
	}
}
