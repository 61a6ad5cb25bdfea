package members

import (
	"net/netip"
	"time"
)

// receive handles one authenticated message from src.
func (m *machine) receive(now time.Time, src netip.AddrPort, msg *message) effects {
	var e effects
	if !m.started {
		e.drop = "stopped"
		return e
	}
	if msg.from == m.cfg.self {
		// Our own packet looped back, or another node uses our name.
		e.drop = "self"
		return e
	}
	p := m.peers[msg.from]
	if p != nil {
		if msg.inc < p.pktInc || (msg.inc == p.pktInc && msg.seq <= p.pktSeq) {
			e.drop = "replay"
			if msg.inc < p.inc {
				// Most likely a restarted instance whose clock-based
				// incarnation is below its previous life's: tell it, so
				// it can start above. A replayed packet makes us send
				// one packet to the real address, which ignores it.
				m.notice(now, p, &e)
			}
			return e
		}
		p.pktInc, p.pktSeq = msg.inc, msg.seq
		m.applyDirect(now, p, msg, &e)
	}
	for i := range msg.rumors {
		r := &msg.rumors[i]
		if r.name == m.cfg.self {
			m.rumorAboutSelf(now, r, msg, p, &e)
			continue
		}
		// News about others is taken only from members we hold alive: a
		// node that comes back from the other side of a partition brings
		// death verdicts about members that are fine, and must rejoin
		// (forgetting them) before it is listened to.
		if p != nil && p.status == statusAlive {
			m.applyRumor(now, r, msg, &e)
		}
	}
	switch msg.typ {
	case typePing:
		m.ack(now, src, msg, p, &e)
	case typeAck:
		if p != nil {
			m.onAck(now, p, msg, &e)
		}
	}
	if p != nil && p.status == statusAlive && msg.status == statusAlive {
		m.compareDigest(now, p, msg, &e)
	}
	m.finish(now, &e)
	return e
}

// applyDirect handles what the sender says about itself.
func (m *machine) applyDirect(now time.Time, p *peer, msg *message, e *effects) {
	r := rumor{name: msg.from, status: msg.status, inc: msg.inc, meta: msg.meta}
	switch {
	case newer(r.inc, r.status, p.inc, p.status):
		m.setState(now, p, &r, e)
	case r.inc == p.inc && r.status == p.status:
	default:
		// We hold newer news about the sender than it has itself (a
		// death verdict at its incarnation): tell it, so it can refute.
		m.notice(now, p, e)
	}
	if p.status == statusAlive && p.inc == msg.inc {
		p.lastHeard = now
	}
	p.sees = msg.alive
	m.resolve(p)
}

// applyRumor handles news about a third member.
func (m *machine) applyRumor(now time.Time, r *rumor, msg *message, e *effects) {
	p := m.peers[r.name]
	if p == nil {
		return // not a member in our configuration (yet)
	}
	if newer(r.inc, r.status, p.inc, p.status) {
		m.setState(now, p, r, e)
	}
	if m.joining && msg.flags&flagState != 0 && msg.flags&flagJoining == 0 {
		// A settled member told us how it sees this one: good enough to
		// stop waiting for it.
		m.resolve(p)
	}
}

// rumorAboutSelf handles someone's view of us. Only a verdict newer than our
// own state matters: "dead" or "left" at our incarnation (we were suspected),
// or any state at a higher incarnation (a previous life of ours).
func (m *machine) rumorAboutSelf(now time.Time, r *rumor, msg *message, sender *peer, e *effects) {
	if m.left || !newer(r.inc, r.status, m.inc, statusAlive) {
		return
	}
	switch {
	case m.joining:
		// Still learning the cluster: the join pings carry the new
		// incarnation to everyone.
		m.inc = r.inc + 1
		m.changed()
		m.sendJoinPings(now, true, e)
	case sender != nil && sender.status == statusAlive:
		// The verdict comes from our own side of the network, most likely
		// a monitor's broadcast that everyone has: out-bid it everywhere.
		m.inc = r.inc + 1
		m.changed()
		m.broadcastSelf(now, e)
	case sender != nil:
		// A member we hold dead holds us dead: the network was cut
		// between us, and one side must rejoin. checkVerdicts decides an
		// interval later, on the sender's fresh state: the verdict may
		// have sat in a queue since the cut (packets sent while a link is
		// down leave when it comes back up). Meanwhile, ask for that
		// state; our notice (sent with the ack) may make it rejoin first.
		if sender.verdictAt.IsZero() {
			sender.verdictAt = now
			m.verdicts++
			m.send(e, sender.name, sender.addr, m.header(typePing, 0, now))
		}
		sender.verdictInc = max(sender.verdictInc, r.inc)
		return
	default:
		return // not a member of ours
	}
	e.refuted = true
}

// checkVerdicts settles the verdicts of members we hold dead (see
// rumorAboutSelf): if such a member still holds us dead after an interval,
// the side that sees fewer members alive rejoins, forgetting what it learnt
// while cut off; on a tie both do. The other side changes nothing, so a node
// coming back does not churn the whole cluster.
func (m *machine) checkVerdicts(now time.Time, e *effects) {
	if m.left || m.joining || m.verdicts == 0 {
		return
	}
	var inc uint64
	rejoin := false
	for _, name := range m.names {
		p := m.peers[name]
		if p.verdictAt.IsZero() || now.Sub(p.verdictAt) < m.cfg.interval {
			continue
		}
		if p.status != statusAlive && int(p.sees) >= m.aliveCount() {
			rejoin = true
			inc = max(inc, p.verdictInc)
		}
		p.verdictAt, p.verdictInc = time.Time{}, 0
		m.verdicts--
	}
	if rejoin && inc >= m.inc {
		m.inc = inc + 1
		m.startJoin(now, true, e)
		e.refuted = true
	}
}

// ack answers a ping.
func (m *machine) ack(now time.Time, src netip.AddrPort, ping *message, p *peer, e *effects) {
	a := m.header(typeAck, 0, now)
	a.time = ping.time
	switch {
	case ping.flags&flagWantState != 0 && m.everJoined && !m.joining:
		a.flags |= flagState
		a.rumors = m.stateRumors(false)
	case p != nil && p.status == statusAlive && ping.flags&flagJoining == 0:
		a.rumors = m.rumors.take(maxPiggyback)
	}
	m.send(e, ping.from, src, a)
}

// onAck takes the round trip sample and counts leave acknowledgements.
func (m *machine) onAck(now time.Time, p *peer, msg *message, e *effects) {
	if msg.time > 0 && p.status == statusAlive && msg.inc == p.inc {
		rtt := now.Sub(m.epoch) - time.Duration(msg.time-1)
		if rtt >= 0 && rtt < 10*time.Second {
			e.rtt = rtt
			if p.rtt == 0 {
				p.rtt = rtt
			} else {
				p.rtt += (rtt - p.rtt) / 8 // as TCP's smoothed RTT
			}
		}
	}
	if m.leave != nil && m.leave.pending[p.name] {
		delete(m.leave.pending, p.name)
	}
}

// notice tells a peer how we see it, at most once per interval.
func (m *machine) notice(now time.Time, p *peer, e *effects) {
	if p.inc == 0 || (!p.lastNotice.IsZero() && now.Sub(p.lastNotice) < m.cfg.interval) {
		return
	}
	p.lastNotice = now
	msg := m.header(typeGossip, 0, now)
	msg.rumors = []rumor{{name: p.name, status: p.status, inc: p.inc, meta: p.meta}}
	m.send(e, p.name, p.addr, msg)
}
