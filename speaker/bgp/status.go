package bgp

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v4/api"
)

// peerSnapshot is one peer's status plus what the metrics need.
type peerSnapshot struct {
	PeerStatus
	hasBFD      bool
	updatesSent uint64 // GoBGP's counter; it restarts when a peer is re-created
}

// Status reports every configured peer, sorted by name.
func (s *Speaker) Status() []PeerStatus {
	snaps := s.snapshot(context.Background())
	out := make([]PeerStatus, len(snaps))
	for i, sn := range snaps {
		out[i] = sn.PeerStatus
	}
	return out
}

func (s *Speaker) snapshot(ctx context.Context) []peerSnapshot {
	s.lock()
	peers := slices.Clone(s.peers)
	counts := make(map[string]int, len(s.applied))
	for name, ap := range s.applied {
		counts[name] = len(ap.routes)
	}
	srv := s.srv
	s.unlock()

	live := map[netip.Addr]*api.Peer{}
	if srv != nil {
		err := srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
			if p.State == nil {
				return
			}
			if a, err := netip.ParseAddr(p.State.NeighborAddress); err == nil {
				live[a.Unmap()] = p
			}
		})
		if err != nil {
			s.log.Debug("listing BGP peers", "error", err)
		}
	}
	slices.SortFunc(peers, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	now := time.Now()
	out := make([]peerSnapshot, 0, len(peers))
	for _, p := range peers {
		sn := peerSnapshot{PeerStatus: PeerStatus{Name: p.Name, Address: p.Address, State: StateIdle}, hasBFD: p.BFD != nil}
		if p.BFD != nil {
			sn.BFD = BFDDown
		}
		if lp, ok := live[p.Address]; ok {
			_, applied := counts[p.Name]
			sn.State = sessionState(lp.State.SessionState)
			if sn.State == StateEstablished && applied {
				sn.PrefixesAdvertised = counts[p.Name]
				if t := lp.GetTimers().GetState().GetUptime(); t != nil {
					sn.Uptime = max(now.Sub(t.AsTime()), 0)
				}
			}
			if b := lp.State.BfdState; b != nil && p.BFD != nil {
				sn.BFD = bfdState(b.SessionState)
			}
			if m := lp.State.Messages; m != nil && m.Sent != nil {
				sn.updatesSent = m.Sent.Update
			}
		}
		sn.LastError, sn.LastErrorTime = s.tracker.lastError(p.Address)
		out = append(out, sn)
	}
	return out
}
