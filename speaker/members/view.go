package members

import (
	"net/netip"
	"slices"
	"time"
)

// view is the Alive() list: nil until the first join ends; frozen during a
// rejoin; ourselves included while we are a member (until our leave is
// acknowledged).
func (m *machine) view() []string {
	if !m.everJoined {
		return nil
	}
	if m.joining {
		return m.published
	}
	var out []string
	if !m.left || (m.leave != nil && !m.leave.done) {
		out = append(out, m.cfg.self)
	}
	for _, p := range m.peers {
		if p.status == statusAlive {
			out = append(out, p.name)
		}
	}
	slices.Sort(out)
	return out
}

func (m *machine) publish(e *effects) {
	if !m.viewDirty {
		return
	}
	m.viewDirty = false
	v := m.view()
	if !slices.Equal(v, m.published) {
		m.published = v
		e.changed = true
	}
}

// Peer is one member as this node sees it.
type Peer struct {
	Name string
	Addr netip.AddrPort
	// State is "alive", "dead", "left", or "unknown" (configured, but
	// never heard of).
	State string
	Alive bool
	// Incarnation is the member's generation: it rises when the member
	// restarts, refutes a false death verdict or changes its meta.
	Incarnation uint64
	// Meta is the payload of the member's last live incarnation heard of,
	// kept while it is held dead or has left.
	Meta []byte
	// Since is when State last changed (zero: unchanged since start).
	Since time.Time
	// LastHeard is when the last packet came straight from the member
	// (zero: never). Only ring neighbours hear from each other regularly.
	LastHeard time.Time
	// RTT is the smoothed round trip of our pings to it (0: we do not
	// ping it).
	RTT time.Duration
	// Monitored: this node pings the member and would declare it dead.
	Monitored bool
	// SeesAlive is how many members it saw alive in its last packet to
	// us; different numbers on different nodes point to a partition.
	SeesAlive int
}

func (m *machine) peerInfo() []Peer {
	out := make([]Peer, 0, len(m.names))
	for _, name := range m.names {
		p := m.peers[name]
		status, inc, since := m.shownState(p)
		st := status.String()
		if status == statusDead && inc == 0 {
			st = "unknown"
		}
		out = append(out, Peer{
			Name: p.name, Addr: p.addr, State: st, Alive: status == statusAlive,
			Incarnation: inc, Meta: slices.Clone(p.meta), Since: since,
			LastHeard: p.lastHeard, RTT: p.rtt, Monitored: p.monitored, SeesAlive: int(p.sees),
		})
	}
	return out
}
