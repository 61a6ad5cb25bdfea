package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v4/api"
)

// The BFD gate looks after the BGP sessions of peers with BFD. It works
// around two problems seen with GoBGP 4.8.0 against FRR 8.4:
//
//  1. FRR reacts to a BFD session coming up by restarting its connect
//     logic for the neighbor. When that happens while the speaker's TCP
//     connection is being accepted, FRR processes a stale connect-retry
//     event on the just-established session and drops it ("No AFI/SAFI
//     activated for peer"), flushing the routes it was keeping for a
//     gracefully restarting speaker. GoBGP starts BFD and BGP together, so
//     after a speaker restart both came up within the same second and
//     this happened in about half the runs. The gate keeps the session
//     closed (GoBGP admin-down) until BFD is up, which separates the two
//     events by GoBGP's connect delay (1.5 s or more).
//
//  2. When BFD goes down GoBGP resets the BGP session with a Cease. If the
//     session is already down (FRR, seeing BFD down too, often closes it
//     first), GoBGP queues that Cease anyway and sends it on the next
//     session as soon as it is established, killing it. The gate replaces
//     such a peer in GoBGP (delete and add: a fresh session state, nothing
//     queued) once the reset has happened. The deletion waits for GoBGP's
//     BFD server to stop the old BFD session, which may be resetting the
//     session late on a loaded node (bfdstop.go: without the wait GoBGP
//     deadlocks, even with one replacement per pass).
//
//  3. FRR's bgpd registers its BFD session for a neighbor without a local
//     address until the first session since bgpd started is established;
//     then it registers it again with the session's local address
//     (bgp_peer_bfd_update_source, called from bgp_establish), which
//     makes bfdd delete the old BFD session and start a new one. Both ends
//     see BFD go down within milliseconds of that first establishment and
//     the session is reset. There is nothing to avoid (FRR drops the
//     session itself too), but the recovery must be quick: after a router
//     restart this happens to every session. So the gate replaces a peer
//     only when a reset may be queued: a Cease that went out on the
//     established session (the usual case, bfdd's Admin Down reaching
//     GoBGP before bgpd's Cease) leaves nothing behind, and replacing the
//     peer would restart GoBGP's BFD session (1 s before it sends) against
//     an FRR session that had already learnt the old one's discriminator
//     and waits in Init for seconds. Without the replacement BFD is back
//     within about 200 ms, and the session about 3 s after the reset
//     (GoBGP's idle hold of 1 s, then its connect delay).
//
// A peer whose BFD does not come up within bfdGateTimeout (the router has
// no BFD for it) is opened anyway, with a warning: BFD that never came up
// never resets the session.

const (
	bfdGateInterval = 100 * time.Millisecond
	bfdGateTimeout  = 10 * time.Second
	// bfdResetSettle is how long after BFD went down the gate waits for
	// GoBGP's reset (it follows within microseconds) before replacing
	// the peer, so that the reset cannot reach the replacement.
	bfdResetSettle = 250 * time.Millisecond
)

// gate is the BFD gate's state of one applied peer.
type gate struct {
	closed    bool      // GoBGP has the peer admin-down
	waitSince time.Time // when the gate last closed
	seenUp    bool      // BFD was up since the gate opened
	timedOut  bool      // opened without BFD; warned
	// bfdDowns is the tracker's BFD-down count already dealt with.
	bfdDowns int
}

// gateInput is what the gate decides on for one peer.
type gateInput struct {
	hasBFD, bfdUp, established bool
	// queuedReset: the reset of a BFD down may be waiting in GoBGP for
	// the next session (queuedBFDReset).
	queuedReset bool
}

type gateAction int

const (
	gateNone gateAction = iota
	gateOpen
	gateOpenTimeout
	gateClose
	gateReplace
)

// gateDecision is the gate's pure rule.
func gateDecision(in gateInput, g gate, now time.Time) gateAction {
	switch {
	case in.hasBFD && in.queuedReset && !in.established:
		return gateReplace
	case g.closed && (!in.hasBFD || in.bfdUp):
		return gateOpen
	case g.closed && now.Sub(g.waitSince) >= bfdGateTimeout:
		return gateOpenTimeout
	case !g.closed && in.hasBFD && g.seenUp && !in.bfdUp && !in.established:
		return gateClose
	}
	return gateNone
}

// queuedBFDReset tells whether the reset of a BFD down may be waiting in
// GoBGP for the next session: BFD went down (downs) after the gate last
// replaced the peer (replaced: the count then) and after GoBGP last sent
// a reset on an established session (resetsSent: the count then), at
// least bfdResetSettle ago so that the reset has happened and been seen.
func queuedBFDReset(downs, resetsSent, replaced int, last, now time.Time) bool {
	return downs > max(resetsSent, replaced) && now.Sub(last) >= bfdResetSettle
}

// runBFDGate runs the gate until ctx ends.
func (s *Speaker) runBFDGate(ctx context.Context) {
	t := time.NewTicker(bfdGateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.gateOnce(ctx, time.Now())
		}
	}
}

// gateOnce acts on GoBGP's view of the sessions.
func (s *Speaker) gateOnce(ctx context.Context, now time.Time) {
	s.lock()
	defer s.unlock()
	if s.srv == nil {
		return
	}
	needed := false
	for _, ap := range s.applied {
		if ap.peer.BFD != nil || ap.gate.closed {
			needed = true
			break
		}
	}
	if !needed {
		return
	}
	live := map[netip.Addr]*api.PeerState{}
	if err := s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.State == nil {
			return
		}
		if a, err := netip.ParseAddr(p.State.NeighborAddress); err == nil {
			live[a.Unmap()] = p.State
		}
	}); err != nil {
		return
	}
	for _, name := range sortedKeys(s.applied) {
		ap := s.applied[name]
		st, ok := live[ap.peer.Address]
		if !ok {
			continue
		}
		downs, sent, last := s.tracker.bfdDownEvents(ap.peer.Address)
		in := gateInput{
			hasBFD:      ap.peer.BFD != nil,
			bfdUp:       st.BfdState != nil && st.BfdState.SessionState == api.BfdSessionState_BFD_SESSION_STATE_UP,
			established: st.SessionState == api.PeerState_SESSION_STATE_ESTABLISHED,
			queuedReset: queuedBFDReset(downs, sent, ap.gate.bfdDowns, last, now),
		}
		if in.established {
			ap.everUp = true
		}
		addr := ap.peer.Address.String()
		switch d := gateDecision(in, ap.gate, now); d {
		case gateReplace:
			if err := s.deleteSession(ctx, ap.peer); err != nil {
				s.log.Error("replacing BGP peer after BFD went down", "peer", name, "error", err)
				continue
			}
			if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.gatedAPIPeer(ap, ap.peer, ap.restarting && !ap.everUp)}); err != nil {
				// Forget the peer: the next SetPeers, SetRoutes or
				// UpdateRoutes adds it.
				s.log.Error("replacing BGP peer after BFD went down", "peer", name, "error", err)
				_ = s.deleteVRF(ctx, ap)
				delete(s.applied, name)
				s.inSync = false
				continue
			}
			ap.gate.bfdDowns = downs
			s.log.Debug("BGP peer replaced after BFD went down", "peer", name)
		case gateOpen, gateOpenTimeout:
			if err := s.srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: addr}); err != nil {
				s.log.Error("opening BGP session", "peer", name, "error", err)
				continue
			}
			ap.gate.closed = false
			ap.gate.seenUp = in.bfdUp
			if d == gateOpenTimeout && !ap.gate.timedOut {
				ap.gate.timedOut = true
				msg := fmt.Sprintf("BFD did not come up within %v; BGP session opened without it", bfdGateTimeout)
				s.tracker.setError(ap.peer.Address, msg)
				s.log.Warn(msg, "peer", name)
			}
		case gateClose:
			if err := s.srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: addr}); err != nil {
				s.log.Error("closing BGP session until BFD is up", "peer", name, "error", err)
				continue
			}
			ap.gate = gate{closed: true, waitSince: now, bfdDowns: ap.gate.bfdDowns}
		case gateNone:
			if in.bfdUp {
				ap.gate.seenUp = true
				ap.gate.timedOut = false
			}
		}
	}
}
