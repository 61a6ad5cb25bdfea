package members

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The state machine decides who is alive from the messages received and the
// time. It does no I/O and reads no clock: every input carries "now", every
// output (packets to send, state transitions, whether Alive changed) comes
// back in effects. Members drives it from a socket and a timer; the tests
// drive it from scripts and from a simulated network with a virtual clock.
// It is not safe for concurrent use.

// config is the machine's fixed configuration.
type config struct {
	self     string
	interval time.Duration // ping period
	timeout  time.Duration // silence after which a pinged member is dead
	fanout   int           // how many ring successors each node pings
}

// Tunables derived from the interval; see doc.go for the reasoning.
func (c config) fastPing() time.Duration    { return max(c.interval/4, time.Millisecond) }
func (c config) probePeriod() time.Duration { return 4 * c.interval }
func (c config) leaveRetry() time.Duration  { return max(c.interval/2, time.Millisecond) }
func (c config) stallGap() time.Duration    { return 2 * c.interval }
func (c config) mismatchGrace() time.Duration {
	return 2 * c.interval
}
func (c config) rumorTransmits() int { return 4 * c.fanout }

const (
	leaveAttempts = 5 // left-announcements to a peer that does not acknowledge
	maxPiggyback  = 8 // rumors carried by one ping or ack
	syncMin       = time.Second
	syncMax       = 30 * time.Second
)

// peer is what this node knows about another member.
type peer struct {
	name   string
	addr   netip.AddrPort
	inc    uint64 // 0: never heard of
	status status
	meta   []byte
	since  time.Time // when status last changed
	sees   uint16    // members the peer sees alive, from its last packet

	lastHeard time.Time // last packet straight from it at its current incarnation

	// What we knew of it before a rejoin reset our view (priorInc 0:
	// nothing). A member not heard of since keeps that state, so a node
	// that is really gone stays dead rather than "never heard of".
	priorInc    uint64
	priorStatus status
	priorSince  time.Time
	rtt         time.Duration

	// Ring monitoring: set while the peer is one of our successors.
	monitored    bool
	monitorSince time.Time
	lastPing     time.Time

	// Replay protection: the highest (incarnation, seq) received from it.
	pktInc, pktSeq uint64

	resolved bool // join phase: its state is known

	// Anti-entropy with this peer.
	mismatchSince time.Time
	nextPush      time.Time
	pushBackoff   time.Duration
	lastNotice    time.Time

	// A verdict on us from this member while we hold it dead, awaiting
	// checkVerdicts.
	verdictAt  time.Time
	verdictInc uint64
}

// transition is a change of a peer's status in this node's view.
type transition struct {
	name string
	to   status
	inc  uint64
	// silence is set when this node itself declared the peer dead: how
	// long it had not heard from it.
	silence time.Duration
}

// effects is what one call into the machine asks of its driver.
type effects struct {
	sends       []envelope
	transitions []transition
	changed     bool   // Alive() changed
	drop        string // why a received message was ignored
	rtt         time.Duration
	refuted     bool // we out-bid a verdict about ourselves
	joined      bool // a join phase ended
	leaveDone   bool
}

type leaveState struct {
	pending  map[string]bool
	attempts int
	next     time.Time
	done     bool
}

type machine struct {
	cfg   config
	epoch time.Time // ping timestamps count from here

	inc  uint64
	meta []byte
	left bool

	started    bool
	peersSet   bool
	everJoined bool // a view exists
	joining    bool
	joinEnd    time.Time
	joinRetry  time.Time
	joinRound  int

	peers map[string]*peer
	names []string // sorted peer names, for deterministic iteration

	ring      []string // all peers in ring order, starting after us
	succ      []string // ring successors we ping
	ringDirty bool
	probeNext time.Time
	lastTick  time.Time
	backlog   bool // the last tick saw unread packets

	rumors      rumorQueue
	digestCache uint64
	digestValid bool
	aliveCache  int
	aliveValid  bool
	viewDirty   bool // publish must recompute the view
	unresolved  int  // join phase: members not settled yet
	verdicts    int  // members with a pending verdict on us

	leave     *leaveState
	published []string
}

// newMachine returns a machine for cfg; inc is the first incarnation (the
// driver uses the wall clock, so a restarted node starts above its previous
// life in the normal case; refutation covers the rest).
func newMachine(cfg config, inc uint64, now time.Time) *machine {
	return &machine{
		cfg:   cfg,
		epoch: now,
		inc:   max(inc, 1),
		peers: map[string]*peer{},
	}
}

// start begins operation: the join phase starts once peers are known.
func (m *machine) start(now time.Time) effects {
	var e effects
	if m.started {
		return e
	}
	m.started = true
	m.lastTick = now
	if m.peersSet && !m.left {
		m.startJoin(now, false, &e)
	}
	m.finish(now, &e)
	return e
}

// active reports whether this node takes part in the ring.
func (m *machine) active() bool {
	return m.started && m.everJoined && !m.joining && !m.left
}

func (m *machine) selfStatus() status {
	if m.left {
		return statusLeft
	}
	return statusAlive
}

// samePeers reports whether peers is the current member list. The driver
// passes the list on every Node change, mostly unchanged; this keeps such
// calls at O(members) map lookups, without sorting.
func (m *machine) samePeers(peers map[string]netip.AddrPort) bool {
	n := 0
	for name, addr := range peers {
		if name == m.cfg.self {
			continue
		}
		n++
		if p, ok := m.peers[name]; !ok || p.addr != addr {
			return false
		}
	}
	return n == len(m.peers)
}

// setPeers replaces the member list (self excluded).
func (m *machine) setPeers(now time.Time, peers map[string]netip.AddrPort) effects {
	var e effects
	if m.peersSet && m.samePeers(peers) {
		return e
	}
	first := !m.peersSet
	m.peersSet = true
	for name, p := range m.peers {
		if _, ok := peers[name]; ok {
			continue
		}
		delete(m.peers, name)
		m.rumors.remove(name)
		if m.leave != nil {
			delete(m.leave.pending, name)
		}
		if p.status == statusAlive {
			m.ringDirty = true
		}
		if m.joining && !p.resolved {
			m.unresolved--
		}
		if !p.verdictAt.IsZero() {
			m.verdicts--
		}
		m.changed()
	}
	var added []*peer
	for name, addr := range peers {
		if name == m.cfg.self {
			continue
		}
		if p, ok := m.peers[name]; ok {
			p.addr = addr
			continue
		}
		p := &peer{name: name, addr: addr, status: statusDead}
		m.peers[name] = p
		added = append(added, p)
		if m.joining {
			m.unresolved++
		}
		m.changed()
	}
	m.names = m.names[:0]
	for name := range m.peers {
		m.names = append(m.names, name)
	}
	slices.Sort(m.names)
	m.ring = m.ringOrder()
	slices.SortFunc(added, func(a, b *peer) int { return strings.Compare(a.name, b.name) })

	switch {
	case !m.started || m.left:
	case first:
		m.startJoin(now, false, &e)
	case m.joining:
		for _, p := range added {
			m.send(&e, p.name, p.addr, m.header(typePing, flagJoining, now))
		}
	default:
		// Say hello at once rather than waiting for a probe: the new
		// member learns about us and we about it within a round trip.
		for _, p := range added {
			m.send(&e, p.name, p.addr, m.header(typePing, 0, now))
		}
	}
	m.finish(now, &e)
	return e
}

// setMeta changes the payload carried in our packets. Meta is bound to the
// incarnation, so a change raises it and is broadcast like a refutation.
func (m *machine) setMeta(now time.Time, meta []byte) effects {
	var e effects
	if bytes.Equal(meta, m.meta) {
		return e
	}
	m.meta = bytes.Clone(meta)
	if len(m.meta) == 0 {
		m.meta = nil
	}
	if !m.started || m.left || !m.peersSet {
		return e
	}
	m.inc++
	m.changed()
	m.broadcastSelf(now, &e)
	return e
}

// broadcastSelf tells every peer our current state, and queues it for
// piggybacking in case a packet is lost.
func (m *machine) broadcastSelf(now time.Time, e *effects) {
	msg := m.header(typeGossip, 0, now)
	for _, name := range m.names {
		m.send(e, name, m.peers[name].addr, msg)
	}
	m.rumors.add(rumor{name: m.cfg.self, status: m.selfStatus(), inc: m.inc, meta: m.meta}, m.cfg.rumorTransmits())
}

// header builds a message about ourselves.
func (m *machine) header(typ msgType, flags uint8, now time.Time) *message {
	if m.joining {
		flags |= flagJoining
	}
	msg := &message{
		typ:    typ,
		flags:  flags,
		status: m.selfStatus(),
		inc:    m.inc,
		digest: m.digest(),
		alive:  uint16(min(m.aliveCount(), 1<<16-1)),
		from:   m.cfg.self,
		meta:   m.meta,
	}
	if typ == typePing {
		msg.time = int64(now.Sub(m.epoch)) + 1
	}
	return msg
}

func (m *machine) send(e *effects, toName string, to netip.AddrPort, msg *message) {
	e.sends = append(e.sends, envelope{to: to, toName: toName, msg: msg})
}

// changed notes that a member's state (or the member list) changed: the
// cached digest, alive count and view must be recomputed.
func (m *machine) changed() {
	m.digestValid, m.aliveValid, m.viewDirty = false, false, true
}

// aliveCount is how many members we see alive, ourselves included.
func (m *machine) aliveCount() int {
	if m.aliveValid {
		return m.aliveCache
	}
	n := 0
	if !m.left {
		n = 1
	}
	for _, p := range m.peers {
		if p.status == statusAlive {
			n++
		}
	}
	m.aliveCache, m.aliveValid = n, true
	return n
}

// setState records news about a peer. The caches follow incrementally: a
// mass join or a storm of changes costs O(1) per change, not O(members).
func (m *machine) setState(now time.Time, p *peer, r *rumor, e *effects) {
	from := p.status
	if m.digestValid {
		m.digestCache += entryHash(p.name, r.inc, r.status) - entryHash(p.name, p.inc, p.status)
	}
	p.inc, p.status = r.inc, r.status
	// A peer held dead keeps the meta of its last live incarnation: its
	// MACs are still a speaker's, and a frame from them right after a
	// link flap (our view stale, theirs not) is a hand-over, not a
	// foreign host claiming our addresses.
	if r.status == statusAlive {
		p.meta = bytes.Clone(r.meta)
	}
	if from != p.status {
		m.viewDirty = true
		if m.aliveValid && from == statusAlive {
			m.aliveCache--
		}
		if m.aliveValid && p.status == statusAlive {
			m.aliveCache++
		}
		p.since = now
		if from == statusAlive || p.status == statusAlive {
			m.ringDirty = true
		}
		// While (re)joining the view is frozen; finishJoin reports the
		// difference in one go.
		if !m.joining {
			e.transitions = append(e.transitions, transition{name: p.name, to: p.status, inc: p.inc})
		}
	}
	if !m.joining {
		m.rumors.add(rumor{name: p.name, status: p.status, inc: p.inc, meta: p.meta}, m.cfg.rumorTransmits())
	}
	if m.leave != nil && p.status != statusAlive {
		delete(m.leave.pending, p.name)
	}
}

// finish ends every entry point: the ring follows the alive set, and the
// published view is refreshed.
func (m *machine) finish(now time.Time, e *effects) {
	m.maybeFinishJoin(now, e)
	if m.ringDirty {
		m.recomputeRing(now)
	}
	m.leaveCheck(e)
	m.publish(e)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
