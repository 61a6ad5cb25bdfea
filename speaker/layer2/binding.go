package layer2

import (
	"net/netip"
	"time"
)

// bindingKey names one claimed IP on one interface.
type bindingKey struct {
	ip    netip.Addr
	iface string
}

// binding is the state machine of one claimed IP on one interface. Its
// methods are pure (the clock and the random probe delay come in as
// arguments) and return the new state; the loop does the I/O.
//
//	Waiting  --start, Probe and never announced here-->  Probing
//	Waiting  --start, otherwise----------------------->  Announced
//	Probing  --ProbeCount probes, nobody answered----->  Announced
//	Probing, Announced  --foreign claim--------------->  Conflict
//	Conflict --ConflictRetryInterval------------------>  Probing
//	any      --interface gone or broken--------------->  Waiting
//
// Announced sends GratuitousCount rounds, then one every RefreshInterval.
type binding struct {
	phase Phase
	// probe: the claim asked to probe before the first announcement.
	probe bool
	// announced: the IP has been announced on this interface before, so
	// when the interface comes back it is announced again at once.
	announced bool
	since     time.Time
	// sent counts probes (Probing) or gratuitous rounds (Announced) sent
	// in the current phase.
	sent int
	// next is when tick has something to do; zero: nothing scheduled.
	next time.Time
	// conflict is the foreign claim that put the binding in Conflict; it
	// stays set while the IP is probed again, and is cleared once that
	// probe finds nobody.
	conflict *Conflict
	// err says why the binding is Waiting.
	err string
	// nextCheck is when an announced IP is next probed for another host
	// answering for it (see check); zero: not scheduled.
	nextCheck time.Time
}

// timing is the part of Options the state machine uses.
type timing struct {
	gratuitousCount    int
	gratuitousInterval time.Duration
	refresh            time.Duration // 0: never
	probeCount         int           // 0: never probe
	probeInterval      time.Duration
	conflictRetry      time.Duration // 0: never
	answerCheck        time.Duration // 0: never
}

func timingOf(o Options) timing {
	return timing{
		gratuitousCount:    o.GratuitousCount,
		gratuitousInterval: o.GratuitousInterval,
		refresh:            o.RefreshInterval,
		probeCount:         o.ProbeCount,
		probeInterval:      o.ProbeInterval,
		conflictRetry:      o.ConflictRetryInterval,
		answerCheck:        o.AnswerCheckInterval,
	}
}

// action is a frame (round) to send for a binding.
type action uint8

const (
	actNone action = iota
	actProbe
	actGratuitous
)

func newBinding(probe bool, now time.Time) binding {
	return binding{phase: PhaseWaiting, probe: probe, since: now}
}

// start runs when the interface is ready. It probes first when the claim
// asked for it and the IP was never announced here, or when it comes out
// of a conflict; wait delays the first probe.
func (b binding) start(now time.Time, wait time.Duration, t timing) binding {
	b.err = ""
	b.sent = 0
	if t.probeCount > 0 && ((b.probe && !b.announced) || b.conflict != nil) {
		b.phase, b.since, b.next = PhaseProbing, now, now.Add(wait)
		return b
	}
	return b.announce(now)
}

// announce starts answering and schedules the gratuitous burst, whose first
// round is due at once.
func (b binding) announce(now time.Time) binding {
	b.phase, b.since, b.next = PhaseAnnounced, now, now
	b.sent = 0
	b.announced = true
	return b
}

// stop moves the binding back to Waiting (interface gone or broken).
func (b binding) stop(now time.Time, reason string) binding {
	if b.phase != PhaseWaiting {
		b.since = now
	}
	b.phase, b.next, b.sent, b.err = PhaseWaiting, time.Time{}, 0, reason
	return b
}

// reburst sends the gratuitous burst again (the link came back up).
func (b binding) reburst(now time.Time) binding {
	if b.phase == PhaseAnnounced {
		b.sent, b.next = 0, now
	}
	return b
}

// tick does what is due at now: it returns the new state, the frame to
// send, and whether a conflict ended (a probe after one found nobody).
func (b binding) tick(now time.Time, t timing) (binding, action, bool) {
	if b.next.IsZero() || now.Before(b.next) {
		return b, actNone, false
	}
	cleared := false
	switch b.phase {
	case PhaseConflict:
		// Time to look again whether the other host is still there.
		b.phase, b.since, b.sent = PhaseProbing, now, 0
		fallthrough
	case PhaseProbing:
		if b.sent < t.probeCount {
			b.sent++
			b.next = now.Add(t.probeInterval)
			return b, actProbe, false
		}
		// Nobody answered within one interval of the last probe.
		cleared = b.conflict != nil
		b.conflict = nil
		b = b.announce(now)
		fallthrough
	case PhaseAnnounced:
		b.sent++
		switch {
		case b.sent < t.gratuitousCount:
			b.next = now.Add(t.gratuitousInterval)
		case t.refresh > 0:
			b.next = now.Add(t.refresh)
		default:
			b.next = time.Time{}
		}
		return b, actGratuitous, cleared
	}
	b.next = time.Time{}
	return b, actNone, false
}

// conflicted records a foreign claim c seen at c.At. It returns the new
// state and whether the conflict is news (the binding was not already in
// conflict with the same MAC), which the loop reports.
func (b binding) conflicted(c Conflict, t timing) (binding, bool) {
	switch b.phase {
	case PhaseWaiting, PhaseConflict:
		// Stale: the frame was read before the state changed.
		return b, false
	}
	news := b.conflict == nil || !macEqual(b.conflict.MAC, c.MAC)
	if news {
		b.conflict = &c
	}
	// A conflict that persists keeps its first time as Since.
	b.phase, b.since, b.sent = PhaseConflict, b.conflict.At, 0
	b.next = time.Time{}
	if t.conflictRetry > 0 {
		b.next = c.At.Add(t.conflictRetry)
	}
	return b, news
}

// ipPhase is what the packet handlers see of the binding.
func (b binding) ipPhase() (ipPhase, bool) {
	switch b.phase {
	case PhaseProbing:
		return phaseProbing, true
	case PhaseAnnounced:
		return phaseAnnounced, true
	case PhaseConflict:
		return phaseConflict, true
	}
	return 0, false
}

// check decides whether an announced IP is due for an answer check at now:
// one ARP probe (or DAD solicitation) while it is announced, which a host
// that also holds the address answers, so that host is found by the
// conflict rules (decideARP, decideNDP) even when it never announces
// itself and only answers the clients that ask (its replies are unicast:
// the announcer never sees them otherwise). The first check comes one
// interval after the announcement; jitter, drawn by the caller, spreads
// the checks of IPs announced together. Any other phase cancels it.
func (b binding) check(now time.Time, jitter time.Duration, t timing) (binding, bool) {
	if b.phase != PhaseAnnounced || t.answerCheck <= 0 {
		b.nextCheck = time.Time{}
		return b, false
	}
	if b.nextCheck.IsZero() {
		b.nextCheck = now.Add(t.answerCheck + jitter)
		return b, false
	}
	if now.Before(b.nextCheck) {
		return b, false
	}
	b.nextCheck = now.Add(t.answerCheck + jitter)
	return b, true
}
