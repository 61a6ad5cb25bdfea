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
