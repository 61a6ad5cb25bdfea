package layer2

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// runState is what one Run owns: the bindings and the interfaces with
// their sockets. Only Run's goroutine touches it.
type runState struct {
	a        *Announcer
	bindings map[bindingKey]*binding
	ifaces   map[string]*iface
	gen      uint64    // generation of the claims applied
	nextPoll time.Time // next interface check
	dirty    bool      // views and State need publishing
	// events are the Conflict events of this step, delivered after
	// State shows them.
	events []Conflict
}

// Run answers ARP and NDP for the claimed IPs until ctx ends; then it
// closes every socket, waits for its goroutines and returns nil. It is an
// error to call Run while another Run is running.
//
// Run opens every socket and looks interfaces up from its own goroutine,
// so they live in the network namespace of the thread that runs it: in a
// test, call Run inside vlan.Host.Do (which runs it on a thread locked into
// the host's namespace). The goroutines that read the sockets may run
// anywhere.
func (a *Announcer) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("layer2: Run: already running")
	}
	r := &runState{a: a, bindings: map[bindingKey]*binding{}, ifaces: map[string]*iface{}}
	defer func() {
		r.shutdown()
		a.running.Store(false)
		a.markApplied(0)
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.step(time.Now())
		wait, ok := r.nextWake(time.Now())
		if ok {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
		case <-timer.C:
		}
	}
}

// step does everything that is due: events from readers, new claims,
// interface changes, timers. Views are published before frames go out, so
// an IP is answered from the moment its first gratuitous frame is sent.
func (r *runState) step(now time.Time) {
	a := r.a
	a.mu.Lock()
	events := a.events
	a.events = nil
	gen, desired := a.gen, a.desired
	a.mu.Unlock()

	for _, ev := range events {
		if ev.err != nil {
			r.socketFailed(ev, now)
		}
	}
	claimsChanged := gen != r.gen
	if claimsChanged {
		r.applyClaims(desired, now)
	}
	poll := !now.Before(r.nextPoll)
	if poll {
		r.nextPoll = now.Add(a.opts.InterfacePollInterval)
	}
	if claimsChanged || poll {
		r.syncIfaces(now, poll)
	}
	for _, ev := range events {
		if ev.conflict != nil {
			r.conflict(*ev.conflict)
		}
	}

	type send struct {
		h   *iface
		ip  netip.Addr
		act action
	}
	var sends []send
	checks := a.timing
	checks.answerCheck = answerPeriod(a.timing.answerCheck, len(r.bindings))
	for k, b := range r.bindings {
		// The phase before start as well as tick: a claim that skips the
		// probe goes from Waiting to Announced in start alone, and its
		// "announcing" is logged as any other.
		was := b.phase
		h := r.ifaces[k.iface]
		if b.phase == PhaseWaiting && h != nil && h.open() {
			wait := time.Duration(0)
			if a.opts.ProbeWait > 0 {
				wait = rand.N(a.opts.ProbeWait + 1)
			}
			*b = b.start(now, wait, a.timing)
			r.dirty = true
		}
		nb, act, cleared := b.tick(now, a.timing)
		if nb.phase != b.phase {
			r.dirty = true
		}
		if nb.phase != was {
			r.logPhase(k, nb)
		}
		if cleared {
			a.log.Info("address conflict over: the other host went quiet", "ip", k.ip, "interface", k.iface,
				"mac", b.conflict.MAC.String())
			r.events = append(r.events, Conflict{IP: k.ip, Interface: k.iface, MAC: b.conflict.MAC, At: now, Cleared: true})
		}
		var jitter time.Duration
		if nb.phase == PhaseAnnounced && checks.answerCheck > 0 && !now.Before(nb.nextCheck) {
			// Drawn only when a check is scheduled (a zero nextCheck is
			// before now too).
			jitter = rand.N(checks.answerCheck/4 + 1)
		}
		nb, due := nb.check(now, jitter, checks)
		*b = nb
		if act != actNone {
			sends = append(sends, send{h, k.ip, act})
		} else if due {
			sends = append(sends, send{h, k.ip, actProbe})
		}
	}
	if r.dirty {
		r.publish()
		r.dirty = false
	}
	for _, c := range r.events {
		a.emit(c)
	}
	r.events = r.events[:0]
	if claimsChanged {
		r.gen = gen
		a.markApplied(gen)
	}
	for _, s := range sends {
		r.sendFor(s.h, s.ip, s.act)
	}
}

// nextWake is how long until something is due; false: nothing is.
func (r *runState) nextWake(now time.Time) (time.Duration, bool) {
	if len(r.bindings) == 0 {
		return 0, false
	}
	next := r.nextPoll
	for _, b := range r.bindings {
		if !b.next.IsZero() && b.next.Before(next) {
			next = b.next
		}
		if !b.nextCheck.IsZero() && b.nextCheck.Before(next) {
			next = b.nextCheck
		}
	}
	return max(next.Sub(now), 0), true
}

// applyClaims turns the desired claims into bindings: new (IP, interface)
// pairs start Waiting, vanished ones go at once.
func (r *runState) applyClaims(desired map[netip.Addr]Claim, now time.Time) {
	want := map[bindingKey]struct{}{}
	for ip, c := range desired {
		for _, n := range c.Interfaces {
			k := bindingKey{ip, n}
			want[k] = struct{}{}
			if _, ok := r.bindings[k]; !ok {
				b := newBinding(c.Probe, now)
				r.bindings[k] = &b
				r.dirty = true
			}
		}
	}
	for k, b := range r.bindings {
		if _, ok := want[k]; ok {
			continue
		}
		if b.conflict != nil {
			r.events = append(r.events, Conflict{IP: k.ip, Interface: k.iface, MAC: b.conflict.MAC, At: now, Cleared: true})
		}
		r.a.log.Info("claim withdrawn", "ip", k.ip, "interface", k.iface)
		delete(r.bindings, k)
		r.dirty = true
	}
}

// conflict applies a foreign claim a reader saw.
func (r *runState) conflict(c Conflict) {
	k := bindingKey{c.IP, c.Interface}
	b, ok := r.bindings[k]
	if !ok {
		return // withdrawn meanwhile
	}
	nb, news := b.conflicted(c, r.a.timing)
	if nb.phase != b.phase {
		r.dirty = true
	}
	*b = nb
	if news {
		r.a.metrics.conflicts.Inc()
		r.a.log.Warn("address conflict: another host claims this IP; not announcing it",
			"ip", c.IP, "interface", c.Interface, "mac", c.MAC.String())
		r.events = append(r.events, c)
	}
}

func (r *runState) logPhase(k bindingKey, b binding) {
	switch b.phase {
	case PhaseAnnounced:
		r.a.log.Info("announcing", "ip", k.ip, "interface", k.iface)
	case PhaseProbing:
		r.a.log.Debug("probing", "ip", k.ip, "interface", k.iface)
	case PhaseWaiting:
		r.a.log.Info("waiting for interface", "ip", k.ip, "interface", k.iface, "reason", b.err)
	}
}

// publish gives every interface its new view and refreshes State and the
// announced gauge.
func (r *runState) publish() {
	views := map[string]*ifView{}
	byIP := map[netip.Addr]*Announcement{}
	for k, b := range r.bindings {
		// A binding leaves Waiting only while its interface is open.
		if h := r.ifaces[k.iface]; h != nil && h.open() {
			if ph, ok := b.ipPhase(); ok {
				v := views[k.iface]
				if v == nil {
					v = &ifView{mac: h.mac, ips: map[netip.Addr]ipPhase{}}
					views[k.iface] = v
				}
				v.ips[k.ip] = ph
			}
		}
		an := byIP[k.ip]
		if an == nil {
			an = &Announcement{IP: k.ip}
			byIP[k.ip] = an
		}
		st := InterfaceState{Name: k.iface, Phase: b.phase, Since: b.since, Error: b.err}
		if b.conflict != nil {
			c := *b.conflict
			st.Conflict = &c
		}
		if h := r.ifaces[k.iface]; st.Error == "" && h != nil && h.open() && !h.running {
			st.Error = ErrorLinkDown
		}
		an.Interfaces = append(an.Interfaces, st)
	}
	for name, h := range r.ifaces {
		h.setView(views[name]) // nil for an interface with nothing to answer
	}
	state := make([]Announcement, 0, len(byIP))
	announced := 0
	for _, an := range byIP {
		slices.SortFunc(an.Interfaces, func(x, y InterfaceState) int { return strings.Compare(x.Name, y.Name) })
		if an.Announced() {
			announced++
		}
		state = append(state, *an)
	}
	slices.SortFunc(state, func(x, y Announcement) int { return x.IP.Compare(y.IP) })
	r.a.metrics.announced.Set(float64(announced))
	r.a.mu.Lock()
	r.a.state = state
	r.a.version++
	r.a.mu.Unlock()
}

// sendFor sends the frames of one action for ip on h.
func (r *runState) sendFor(h *iface, ip netip.Addr, act action) {
	if h == nil || !h.open() {
		return
	}
	s, p := h.arp, protoARP
	if ip.Is6() {
		s, p = h.nd, protoNDP
	}
	if s == nil {
		return
	}
	var frames [][]byte
	var err error
	switch {
	case act == actProbe && p == protoARP:
		frames, err = marshalAll(marshalARP, arpProbe(h.mac, ip))
	case act == actProbe:
		frames, err = marshalAll(marshalNDP, ndpProbe(h.mac, ip))
	case p == protoARP:
		g := arpGratuitous(h.mac, ip)
		frames, err = marshalAll(marshalARP, g[0], g[1])
	default:
		frames, err = marshalAll(marshalNDP, ndpUnsolicited(h.mac, ip))
	}
	if err != nil {
		r.a.log.Error("build frame", "ip", ip, "interface", h.name, "error", err)
		return
	}
	counter := r.a.metrics.gratuitous
	if act == actProbe {
		counter = r.a.metrics.probes
	}
	for _, f := range frames {
		// Every frame here goes to a group address; it is in the frame.
		if err := s.send(f, net.HardwareAddr(f[0:6])); err != nil {
			if msg := err.Error(); msg != h.sendErr {
				h.sendErr = msg
				r.a.log.Warn("send failed", "interface", h.name, "proto", p.String(), "ip", ip, "error", err)
			}
			continue
		}
		h.sendErr = ""
		counter.WithLabelValues(p.String()).Inc()
	}
}

func marshalAll[M any](marshal func(M) ([]byte, error), msgs ...M) ([][]byte, error) {
	out := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		b, err := marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// shutdown closes every interface and waits for the readers.
func (r *runState) shutdown() {
	for name, h := range r.ifaces {
		r.closeIface(h)
		delete(r.ifaces, name)
	}
	r.a.readers.Wait()
	r.a.mu.Lock()
	r.a.state = nil
	r.a.version++
	r.a.mu.Unlock()
	r.a.metrics.announced.Set(0)
}

// maxAnswerChecksPerSecond bounds the answer-check frames one speaker
// sends: with more bindings than the period allows at that rate, the
// period stretches (10,000 addresses: one check each every 50 s), so the
// check stays cheap for the LAN while small clusters keep the 4 s period.
const maxAnswerChecksPerSecond = 200

// answerPeriod is the answer-check period for n bindings (0: disabled).
func answerPeriod(every time.Duration, n int) time.Duration {
	if every <= 0 {
		return 0
	}
	return max(every, time.Duration(n)*time.Second/maxAnswerChecksPerSecond)
}
