package members

import (
	"slices"
	"time"
)

// tick does what is due at now: join and leave retries, timeouts, pings and
// probes. The driver calls it no later than deadline(). backlog says that
// packets are waiting unread in our socket: then no verdict is given, since
// the ack that saves a successor may be among them (under CPU saturation
// Go's scheduler can run the timer well before the reader); the driver
// calls again a millisecond later.
func (m *machine) tick(now time.Time, backlog bool) effects {
	var e effects
	if !m.started {
		return e
	}
	m.backlog = backlog
	// We run at least every interval; a longer gap means we were not
	// scheduled (CPU starvation, a long pause, a suspended VM).
	var lost time.Duration
	if gap := now.Sub(m.lastTick); !m.lastTick.IsZero() && gap > m.cfg.stallGap() {
		lost = gap - m.cfg.interval
	}
	m.lastTick = now
	if m.joining {
		if !now.Before(m.joinEnd) {
			m.finishJoin(now, &e)
		} else if !now.Before(m.joinRetry) {
			m.sendJoinPings(now, false, &e)
		}
	}
	m.tickLeave(now, &e)
	m.checkVerdicts(now, &e)
	if m.active() {
		if lost > 0 {
			// The acks we could not process meanwhile are not our
			// successors' fault: move their deadlines by the time we lost
			// (not more, so that a real death during our stall is still
			// detected as soon as possible).
			for _, name := range m.succ {
				p := m.peers[name]
				p.monitorSince = latest(p.lastHeard, p.monitorSince).Add(lost)
			}
		}
		if !backlog {
			m.checkTimeouts(now, &e)
		}
		if m.ringDirty {
			m.recomputeRing(now)
		}
		m.sendPings(now, &e)
		m.probe(now, &e)
	}
	m.finish(now, &e)
	return e
}

// checkTimeouts declares dead the successors we have not heard from for a
// timeout.
func (m *machine) checkTimeouts(now time.Time, e *effects) {
	for _, name := range slices.Clone(m.succ) {
		p := m.peers[name]
		if p.status != statusAlive {
			continue
		}
		if now.Sub(latest(p.lastHeard, p.monitorSince)) >= m.cfg.timeout {
			m.declareDead(now, p, e)
		}
	}
}

// declareDead records our verdict and tells every member at once, the dead
// one included: if it is alive after all, it refutes straight away.
func (m *machine) declareDead(now time.Time, p *peer, e *effects) {
	silence := now.Sub(latest(p.lastHeard, p.monitorSince))
	if !p.lastHeard.IsZero() {
		silence = now.Sub(p.lastHeard)
	}
	r := rumor{name: p.name, status: statusDead, inc: p.inc}
	m.setState(now, p, &r, e)
	e.transitions[len(e.transitions)-1].silence = silence
	msg := m.header(typeGossip, 0, now)
	msg.rumors = []rumor{r}
	for _, name := range m.names {
		if q := m.peers[name]; q.status == statusAlive || q == p {
			m.send(e, q.name, q.addr, msg)
		}
	}
}

// nextPing is when successor p is due a ping: every interval, or every
// fastPing once an ack is overdue by half an interval, so that a few lost
// packets cannot add up to a timeout (5 consecutive losses at the normal
// rate; about 15 once overdue).
func (m *machine) nextPing(p *peer) time.Time {
	if p.lastPing.IsZero() {
		return time.Time{}
	}
	normal := p.lastPing.Add(m.cfg.interval)
	fast := p.lastPing.Add(m.cfg.fastPing())
	overdue := latest(p.lastHeard, p.monitorSince).Add(m.cfg.interval * 3 / 2)
	fast = latest(fast, overdue)
	if fast.Before(normal) {
		return fast
	}
	return normal
}

func (m *machine) sendPings(now time.Time, e *effects) {
	for _, name := range m.succ {
		p := m.peers[name]
		if now.Before(m.nextPing(p)) {
			continue
		}
		msg := m.header(typePing, 0, now)
		msg.rumors = m.rumors.take(maxPiggyback)
		m.send(e, p.name, p.addr, msg)
		p.lastPing = now
	}
}

// probe pings the dead members among our ring successors, to notice their
// return (a restart whose join we missed, a healed partition). Probes carry
// no rumors: we might be the one cut off, holding stale verdicts.
func (m *machine) probe(now time.Time, e *effects) {
	if now.Before(m.probeNext) {
		return
	}
	m.probeNext = now.Add(m.cfg.probePeriod())
	for _, p := range m.probeTargets() {
		m.send(e, p.name, p.addr, m.header(typePing, 0, now))
	}
}

// deadline is the latest time tick must run next.
func (m *machine) deadline(now time.Time) time.Time {
	d := now.Add(m.cfg.interval)
	earliest := func(t time.Time) {
		if t.Before(d) {
			d = t
		}
	}
	if !m.started {
		return d
	}
	if m.joining {
		earliest(m.joinEnd)
		earliest(m.joinRetry)
	}
	if m.leave != nil && !m.leave.done {
		earliest(m.leave.next)
	}
	if m.verdicts > 0 {
		for _, p := range m.peers {
			if !p.verdictAt.IsZero() {
				earliest(p.verdictAt.Add(m.cfg.interval))
			}
		}
	}
	if m.active() {
		for _, name := range m.succ {
			p := m.peers[name]
			earliest(m.nextPing(p))
			earliest(latest(p.lastHeard, p.monitorSince).Add(m.cfg.timeout))
		}
		earliest(m.probeNext)
	}
	if m.backlog {
		earliest(now.Add(time.Millisecond))
	}
	if d.Before(now) {
		return now
	}
	return d
}
