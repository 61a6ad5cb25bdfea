package members

import (
	"slices"
	"time"
)

// Leaving. The node announces "left" (a ping with status left) to every live
// member, which drops it at once, and repeats the announcement to those that
// have not acknowledged, every leaveRetry, leaveAttempts times at most. The
// node stays in its own Alive() until every live member has acknowledged (or
// the attempts run out): for one round trip both it and its successor
// announce an address, rather than nobody.

func (m *machine) startLeave(now time.Time) effects {
	var e effects
	if m.left {
		return e
	}
	m.left = true
	m.joining = false
	m.changed()
	m.rumors.clear()
	l := &leaveState{pending: map[string]bool{}, attempts: 1, next: now.Add(m.cfg.leaveRetry())}
	m.leave = l
	if m.started {
		msg := m.header(typePing, 0, now)
		for _, name := range m.names {
			if p := m.peers[name]; p.status == statusAlive {
				l.pending[name] = true
				m.send(&e, p.name, p.addr, msg)
			}
		}
	}
	m.recomputeRing(now)
	m.finish(now, &e)
	return e
}

func (m *machine) tickLeave(now time.Time, e *effects) {
	l := m.leave
	if l == nil || l.done || now.Before(l.next) {
		return
	}
	if l.attempts >= leaveAttempts {
		m.finishLeave(e)
		return
	}
	msg := m.header(typePing, 0, now)
	names := make([]string, 0, len(l.pending))
	for name := range l.pending {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m.send(e, name, m.peers[name].addr, msg)
	}
	l.attempts++
	l.next = now.Add(m.cfg.leaveRetry())
}

// leaveCheck ends the leave once nobody is left to tell.
func (m *machine) leaveCheck(e *effects) {
	if m.leave != nil && !m.leave.done && len(m.leave.pending) == 0 {
		m.finishLeave(e)
	}
}

func (m *machine) finishLeave(e *effects) {
	m.leave.done = true
	m.changed()
	e.leaveDone = true
}

// leaveUnacked lists the members that did not acknowledge our leaving.
func (m *machine) leaveUnacked() []string {
	if m.leave == nil {
		return nil
	}
	var out []string
	for name := range m.leave.pending {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
