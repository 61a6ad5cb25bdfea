package members

import (
	"cmp"
	"slices"
	"time"
)

// The ring orders members by a hash of their name, not by the name itself:
// nodes of one rack or power domain usually have consecutive names, and when
// more than fanout ring neighbours fail together, the last ones are only
// detected one timeout later (once the first are declared dead and their
// predecessors move on to them). Hashing scatters a rack around the ring.

type ringEntry struct {
	key  uint64
	name string
}

func ringKey(name string) uint64 { return hashString(name) }

func compareRing(a, b ringEntry) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

// ringOrder returns every peer's name in ring order, starting after us.
func (m *machine) ringOrder() []string {
	ents := make([]ringEntry, 0, len(m.peers))
	for _, p := range m.peers {
		ents = append(ents, ringEntry{key: ringKey(p.name), name: p.name})
	}
	slices.SortFunc(ents, compareRing)
	self := ringEntry{key: ringKey(m.cfg.self), name: m.cfg.self}
	i, _ := slices.BinarySearchFunc(ents, self, compareRing)
	out := make([]string, 0, len(ents))
	for j := range ents {
		out = append(out, ents[(i+j)%len(ents)].name)
	}
	return out
}

// ringAfterSelf returns up to n peers that pass keep, in ring order
// starting after us (n < 0: all of them).
func (m *machine) ringAfterSelf(n int, keep func(*peer) bool) []string {
	var out []string
	for _, name := range m.ring {
		if n >= 0 && len(out) == n {
			break
		}
		if keep(m.peers[name]) {
			out = append(out, name)
		}
	}
	return out
}

// recomputeRing sets the successors we ping: the next fanout live members
// after us. Members that stay successors keep their monitoring clock; new
// ones get a full timeout from now and are pinged at once.
func (m *machine) recomputeRing(now time.Time) {
	m.ringDirty = false
	var next []string
	if m.active() {
		next = m.ringAfterSelf(m.cfg.fanout, func(p *peer) bool { return p.status == statusAlive })
	}
	for _, name := range m.succ {
		if p := m.peers[name]; p != nil && !slices.Contains(next, name) {
			p.monitored = false
		}
	}
	for _, name := range next {
		p := m.peers[name]
		if !p.monitored {
			p.monitored = true
			p.monitorSince = now
			p.lastPing = time.Time{}
		}
	}
	m.succ = next
}

// probeTargets are the members we probe although they are not alive: those
// among our fanout successors on the ring of all configured members. Every
// dead member is probed by a few nodes (not by everyone, which would make
// each node ARP for every dead address), and every side of a partition has
// a node whose successor is on the other side, so partitions heal.
func (m *machine) probeTargets() []*peer {
	var out []*peer
	for _, name := range m.ring[:min(len(m.ring), m.cfg.fanout)] {
		if p := m.peers[name]; p.status == statusDead {
			out = append(out, p)
		}
	}
	return out
}
