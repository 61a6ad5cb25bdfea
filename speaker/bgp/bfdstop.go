package bgp

import (
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"google.golang.org/protobuf/proto"
)

// GoBGP 4.8.0 deadlocks when it stops a peer's BFD session while that
// session is resetting the peer, and another BFD change follows before
// the stop is over (pkg/server, file:line for v4.8.0):
//
//   - Deleting a peer (server.go:1616, stopNeighbor, on every DeletePeer,
//     with BFD or not) and adding or updating a BFD peer (server.go:3543,
//     3584, 3590) send an event to the BFD server's loop on a channel
//     with room for one (bfd_server.go:83), from the BGP server's main
//     loop, which runs every API call.
//   - The BFD server's loop handles a deletion by stopping the BFD peer
//     and waiting for that peer's goroutine to end (bfd_server.go:206-210,
//     339; bfd_peer.go:138).
//   - A BFD peer whose session just went down (expiry, bfd_peer.go:394;
//     remote down, bfd_peer.go:411) calls BgpServer.ResetPeer, an API call
//     that waits for the main loop (server.go:3997, 277).
//
// So: a BFD peer goes down while it is being deleted; its goroutine waits
// for the main loop; the BFD server waits for that goroutine; one more
// event fills the channel, and the next one blocks the main loop, which is
// what the BFD peer waits for. Every later API call, and /metrics, hangs.
// It takes a slow goroutine at the wrong moment (a loaded node), and then
// two BFD events in a row: two peers replaced in one BFD gate pass, or a
// SetPeers that removes or changes several peers.
//
// The speaker makes the cycle impossible: after each of its calls that
// makes GoBGP stop a BFD session it waits until GoBGP's BFD server has
// finished stopping it before it makes another call. While it waits it
// calls nothing, so GoBGP's main loop is free to serve the BFD peer's
// reset, the peer's goroutine ends, and the BFD server is ready again.
// The other events (adding a BFD peer, deleting a peer without one) never
// make the BFD server wait, so the speaker's next event always finds it
// taking events. GoBGP tells that a stop is over only in its log ("Remove
// BFD peer", logged after the wait, bfd_server.go:341); the log handler
// passes it to bfdStops.

// bfdStopTimeout bounds the wait for GoBGP's BFD server. A stop takes
// microseconds, or as long as the main loop takes to serve the reset
// queued before it; past this something else is stuck, and the stall
// check (stall.go) takes over.
const bfdStopTimeout = 10 * time.Second

// gobgpBFD is the BFD configuration GoBGP gets for a peer's BFD profile.
func gobgpBFD(b *BFDProfile) *api.BfdPeerConfig {
	if b == nil {
		return nil
	}
	return &api.BfdPeerConfig{
		Enabled:                  true,
		Port:                     bfdPort,
		DesiredMinimumTxInterval: uint32(b.TransmitInterval / time.Microsecond),
		RequiredMinimumReceive:   uint32(b.ReceiveInterval / time.Microsecond),
		DetectionMultiplier:      b.DetectMultiplier,
	}
}

// stopsBFDSession says whether GoBGP stops a peer's BFD session when the
// peer, configured with BFD before, is deleted (after nil) or updated to
// after: GoBGP stops it on a deletion, and on an update that changes the
// configuration (it then starts a new one), never when BFD was off.
func stopsBFDSession(before, after *api.BfdPeerConfig, deleted bool) bool {
	if !before.GetEnabled() {
		return false
	}
	return deleted || !proto.Equal(before, after)
}

// bfdStops counts, per peer address, the BFD sessions GoBGP's BFD server
// has finished stopping. It has its own lock: GoBGP's BFD server reports
// while the speaker waits with its lock held.
type bfdStops struct {
	mu   sync.Mutex
	done map[netip.Addr]uint64
	// wake is closed and replaced at every stop.
	wake chan struct{}
}

func newBFDStops() *bfdStops {
	return &bfdStops{done: map[netip.Addr]uint64{}, wake: make(chan struct{})}
}

// stopped records that GoBGP's BFD server finished stopping the session
// of peer (an address as GoBGP logs it).
func (b *bfdStops) stopped(peer string) {
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.done[a.Unmap()]++
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// count returns how many stops of a's session have finished.
func (b *bfdStops) count(a netip.Addr) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done[a]
}

// wait waits until more than seen stops of a's session have finished, for
// at most timeout; it reports whether they did.
func (b *bfdStops) wait(a netip.Addr, seen uint64, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		n, wake := b.done[a], b.wake
		b.mu.Unlock()
		if n > seen {
			return true
		}
		select {
		case <-wake:
		case <-deadline.C:
			return false
		}
	}
}

// stoppingBFD makes a call into GoBGP that stops the BFD session of the
// peer at a when stops is true, and then waits until GoBGP's BFD server
// has finished stopping it (see above). A failed call is not waited for:
// GoBGP fails DeletePeer and UpdatePeer before it touches BFD.
func (s *Speaker) stoppingBFD(a netip.Addr, stops bool, call func() error) error {
	if !stops {
		return call()
	}
	seen := s.bfdStops.count(a)
	if err := call(); err != nil {
		return err
	}
	start := time.Now()
	if !s.bfdStops.wait(a, seen, bfdStopTimeout) {
		s.log.Error("GoBGP's BFD server did not finish stopping a BFD session; the BGP engine may be stuck",
			"address", a, "waited", bfdStopTimeout)
		return nil
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		s.log.Debug("waited for GoBGP's BFD server to stop a BFD session", "address", a, "waited", d)
	}
	return nil
}
