package members

import (
	"slices"
	"time"
)

// Joining. A node that starts (or must relearn the cluster after being cut
// off) pings every configured member with the joining flag. Each live member
// answers, which proves it alive; a few (fanout per round) are also asked
// for their view of the members that are not alive. The join phase ends when
// every member is settled (heard from directly, or reported by a member that
// has a view) or after one timeout, whichever comes first: about one round
// trip in a running cluster. Until the first join ends Alive() is empty, so
// the speaker announces nothing on a guess; during a rejoin Alive() keeps the
// last view, so a running speaker does not drop everything for a moment.

// resolve marks a member settled for the join phase.
func (m *machine) resolve(p *peer) {
	if m.joining && !p.resolved {
		p.resolved = true
		m.unresolved--
	}
}

// startJoin begins a join phase. A rejoin forgets every member's state.
func (m *machine) startJoin(now time.Time, rejoin bool, e *effects) {
	m.joining = true
	m.joinEnd = now.Add(m.cfg.timeout)
	m.joinRound = 0
	m.rumors.clear()
	m.unresolved = len(m.peers)
	m.verdicts = 0
	for _, p := range m.peers {
		p.resolved = false
		p.monitored = false
		p.mismatchSince = time.Time{}
		p.verdictAt, p.verdictInc = time.Time{}, 0
		if rejoin {
			if p.inc > 0 { // a rejoin during a rejoin keeps the first prior
				p.priorInc, p.priorStatus, p.priorSince = p.inc, p.status, p.since
			}
			p.inc, p.status = 0, statusDead // meta kept, as for any dead peer
		}
	}
	m.succ = nil
	m.changed()
	m.sendJoinPings(now, true, e)
}

// sendJoinPings pings the unsettled members (all of them when our
// incarnation changed) and asks a few of them for their view.
func (m *machine) sendJoinPings(now time.Time, all bool, e *effects) {
	targets := m.ringAfterSelf(-1, func(p *peer) bool { return all || !p.resolved })
	var ask []string
	if n := len(targets); n > 0 {
		for i := range min(m.cfg.fanout, n) {
			ask = append(ask, targets[(m.joinRound*m.cfg.fanout+i)%n])
		}
	}
	for _, name := range targets {
		flags := flagJoining
		if slices.Contains(ask, name) {
			flags |= flagWantState
		}
		m.send(e, name, m.peers[name].addr, m.header(typePing, flags, now))
	}
	m.joinRound++
	m.joinRetry = now.Add(m.cfg.interval)
}

func (m *machine) maybeFinishJoin(now time.Time, e *effects) {
	if m.joining && (m.unresolved == 0 || !now.Before(m.joinEnd)) {
		m.finishJoin(now, e)
	}
}

// finishJoin publishes the learnt view; members never settled stay "never
// heard of" (dead at incarnation 0) and are left to probing.
func (m *machine) finishJoin(now time.Time, e *effects) {
	m.joining = false
	for _, p := range m.peers {
		m.restorePrior(now, p)
	}
	m.everJoined = true
	m.changed()
	e.joined = true
	before := map[string]bool{}
	for _, name := range m.published {
		before[name] = true
	}
	for _, name := range m.names {
		p := m.peers[name]
		if was, is := before[name], p.status == statusAlive; was != is {
			e.transitions = append(e.transitions, transition{name: name, to: p.status, inc: p.inc})
		}
	}
	m.probeNext = now
	m.recomputeRing(now)
}

// restorePrior gives a member we knew before a rejoin, and have not heard of
// since, back its state: dead (or left) at the incarnation we knew. Both
// sides of a short split rejoin at once on a tie, and neither can tell the
// other about a member that is really gone; without this, that member would
// be "never heard of" and its pods presumed reachable. A member that was
// alive and did not answer the join is dead now; it refutes if it is not.
func (m *machine) restorePrior(now time.Time, p *peer) {
	prior, inc, since := p.priorStatus, p.priorInc, p.priorSince
	p.priorInc, p.priorStatus, p.priorSince = 0, 0, time.Time{}
	if inc == 0 || p.inc != 0 {
		return
	}
	p.inc, p.status, p.since = inc, statusDead, now
	if prior != statusAlive {
		p.status, p.since = prior, since
	}
	m.viewDirty = true
}

// shownState is a member's state as PeerInfo reports it: during a rejoin,
// a member not heard of yet keeps what we knew before, as Alive() keeps the
// last view.
func (m *machine) shownState(p *peer) (st status, inc uint64, since time.Time) {
	if m.joining && p.inc == 0 && p.priorInc > 0 {
		return p.priorStatus, p.priorInc, p.priorSince
	}
	return p.status, p.inc, p.since
}
