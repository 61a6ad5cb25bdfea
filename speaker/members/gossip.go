package members

import (
	"slices"
	"time"
)

// Dissemination has three layers, fastest first:
//  1. whoever makes news (a monitor declaring a death, a node refuting,
//     joining, leaving or changing its meta) sends it straight to every
//     member: one packet per member, once per event;
//  2. every node that applies news piggybacks it on its next pings and acks
//     (rumorQueue), which repairs a lost broadcast packet within a ping or
//     two, since each node is pinged by its ring predecessors;
//  3. every packet carries a digest of the sender's whole view; when a
//     neighbour's digest stays different for two intervals, the whole view
//     is pushed to it (compareDigest), with exponential backoff. This is the
//     backstop that makes views converge whatever was lost.

// rumorQueue holds news to piggyback, one entry per member.
type rumorQueue struct {
	items []queued
}

type queued struct {
	r    rumor
	left int // transmissions left
}

func (q *rumorQueue) add(r rumor, transmits int) {
	for i := range q.items {
		if q.items[i].r.name == r.name {
			q.items[i] = queued{r: r, left: transmits}
			return
		}
	}
	q.items = append(q.items, queued{r: r, left: transmits})
}

func (q *rumorQueue) remove(name string) {
	q.items = slices.DeleteFunc(q.items, func(it queued) bool { return it.r.name == name })
}

func (q *rumorQueue) clear() { q.items = q.items[:0] }

// take returns up to n rumors, freshest (most transmissions left) first,
// and counts one transmission for each.
func (q *rumorQueue) take(n int) []rumor {
	if len(q.items) == 0 {
		return nil
	}
	slices.SortStableFunc(q.items, func(a, b queued) int { return b.left - a.left })
	n = min(n, len(q.items))
	out := make([]rumor, n)
	for i := range n {
		out[i] = q.items[i].r
		q.items[i].left--
	}
	q.items = slices.DeleteFunc(q.items, func(it queued) bool { return it.left <= 0 })
	return out
}

// digest is an order-independent hash of the whole view: every member's
// name, incarnation and status, ourselves included.
func (m *machine) digest() uint64 {
	if m.digestValid {
		return m.digestCache
	}
	sum := entryHash(m.cfg.self, m.inc, m.selfStatus())
	for _, p := range m.peers {
		sum += entryHash(p.name, p.inc, p.status)
	}
	m.digestCache, m.digestValid = sum, true
	return sum
}

func entryHash(name string, inc uint64, s status) uint64 {
	return mix(mix(hashString(name)^inc) ^ uint64(s))
}

// compareDigest runs anti-entropy with a live peer that sent us a packet.
func (m *machine) compareDigest(now time.Time, p *peer, msg *message, e *effects) {
	if !m.active() || msg.flags&flagJoining != 0 || msg.digest == m.digest() {
		p.mismatchSince = time.Time{}
		if msg.digest == m.digest() {
			p.pushBackoff = 0
		}
		return
	}
	if p.mismatchSince.IsZero() {
		p.mismatchSince = now
		return
	}
	// A difference that lasts two intervals is not news in flight.
	if now.Sub(p.mismatchSince) < m.cfg.mismatchGrace() || now.Before(p.nextPush) {
		return
	}
	p.pushBackoff = min(max(2*p.pushBackoff, syncMin), syncMax)
	p.nextPush = now.Add(p.pushBackoff)
	msg = m.header(typeGossip, 0, now)
	msg.rumors = m.stateRumors(true)
	m.send(e, p.name, p.addr, msg)
}

// stateRumors lists our view: everyone (all) or the members that are not
// alive (what a joining node cannot learn from the members' own acks).
func (m *machine) stateRumors(all bool) []rumor {
	var out []rumor
	if all {
		out = append(out, rumor{name: m.cfg.self, status: m.selfStatus(), inc: m.inc, meta: m.meta})
	}
	for _, name := range m.names {
		p := m.peers[name]
		if all || p.status != statusAlive {
			out = append(out, rumor{name: p.name, status: p.status, inc: p.inc, meta: p.meta})
		}
	}
	return out
}

// FNV-1a 64 and the SplitMix64 finalizer (as in pkg/election).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
