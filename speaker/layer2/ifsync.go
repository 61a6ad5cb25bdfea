package layer2

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// families says which sockets an interface needs.
type families struct{ v4, v6 bool }

// syncIfaces makes the interfaces match the bindings: sockets exist for
// exactly the interfaces and address families something is claimed on,
// and the solicited-node groups of the claimed IPv6 addresses are joined.
// A new interface is opened at once; a missing or broken one is retried,
// and open ones are checked for having been replaced or having come back
// up, when poll is set.
func (r *runState) syncIfaces(now time.Time, poll bool) {
	need := map[string]families{}
	for k := range r.bindings {
		f := need[k.iface]
		if k.ip.Is4() {
			f.v4 = true
		} else {
			f.v6 = true
		}
		need[k.iface] = f
	}
	for name, h := range r.ifaces {
		if _, ok := need[name]; !ok {
			r.closeIface(h)
			delete(r.ifaces, name)
			r.dirty = true
		}
	}
	if len(need) == 0 {
		return
	}

	var links map[string]net.Interface
	lookup := func() (map[string]net.Interface, error) {
		if links != nil {
			return links, nil
		}
		all, err := net.Interfaces()
		if err != nil {
			return nil, err
		}
		links = map[string]net.Interface{}
		own := map[string]bool{}
		for _, l := range all {
			links[l.Name] = l
			if len(l.HardwareAddr) > 0 {
				own[l.HardwareAddr.String()] = true
			}
		}
		r.a.ownMACs.Store(&own)
		return links, nil
	}

	for name, fam := range need {
		h := r.ifaces[name]
		if h == nil {
			h = &iface{name: name}
			r.ifaces[name] = h
		} else if !poll && (h.open() || h.err != "") {
			// Known and not due for a look: only adjust the sockets.
			if h.open() {
				r.ensureSockets(h, fam, now)
			}
			continue
		}
		ls, err := lookup()
		if err != nil {
			r.ifaceDown(h, fmt.Sprintf("list interfaces: %v", err), now)
			continue
		}
		l, ok := ls[name]
		switch {
		case !ok:
			r.ifaceDown(h, "interface not found", now)
			continue
		case len(l.HardwareAddr) != 6:
			r.ifaceDown(h, fmt.Sprintf("interface has no Ethernet address (%q)", l.HardwareAddr.String()), now)
			continue
		case h.open() && (l.Index != h.index || !macEqual(l.HardwareAddr, h.mac)):
			// Deleted and created again, or given a new MAC: start over,
			// and announce again from the new one.
			r.ifaceDown(h, "interface replaced", now)
		}
		running := l.Flags&net.FlagUp != 0 && l.Flags&net.FlagRunning != 0
		if h.open() {
			if running && !h.running {
				r.a.log.Info("link up: announcing again", "interface", name)
				for k, b := range r.bindings {
					if k.iface == name {
						*b = b.reburst(now)
					}
				}
			}
			if running != h.running {
				r.dirty = true
			}
			h.running = running
			r.ensureSockets(h, fam, now)
			continue
		}
		h.index, h.mac, h.running = l.Index, append(net.HardwareAddr(nil), l.HardwareAddr...), running
		if r.ensureSockets(h, fam, now) {
			if h.err != "" {
				r.a.log.Info("interface ready", "interface", name)
			}
			h.err = ""
			r.dirty = true
		}
	}
}

// ensureSockets opens and closes h's sockets and memberships to match fam
// and the claimed IPv6 addresses. On failure h is closed and its bindings
// wait; it returns whether h is usable.
func (r *runState) ensureSockets(h *iface, fam families, now time.Time) bool {
	ifi := &net.Interface{Index: h.index, Name: h.name, HardwareAddr: h.mac}
	var err error
	switch {
	case fam.v4 && h.arp == nil:
		h.arp, err = r.openSock(h, ifi, protoARP)
	case !fam.v4 && h.arp != nil:
		r.closeSock(h.arp)
		h.arp = nil
	}
	if err == nil {
		switch {
		case fam.v6 && h.nd == nil:
			h.nd, err = r.openSock(h, ifi, protoNDP)
		case !fam.v6 && h.nd != nil:
			r.closeSock(h.nd)
			h.nd = nil
		}
	}
	if err == nil && fam.v6 && h.groups == nil {
		if h.groups, err = openMLD(h.index); err == nil {
			r.a.socketsOpen.Add(1)
		}
	}
	if err == nil && !fam.v6 && h.groups != nil {
		r.closeGroups(h)
	}
	if err != nil {
		r.closeIface(h)
		r.ifaceDown(h, err.Error(), now)
		return false
	}
	if h.groups != nil {
		want := map[netip.Addr]bool{}
		for k := range r.bindings {
			if k.iface == h.name && k.ip.Is6() {
				want[solicitedNode(k.ip)] = true
			}
		}
		err := h.groups.set(want)
		// Not fatal: without the membership, solicitations reach us only
		// where the NIC and switches flood multicast, but unicast ones
		// and everything we send still work.
		if msg := fmt.Sprint(err); err != nil && msg != h.groupErr {
			r.a.log.Warn("multicast membership", "interface", h.name, "error", err)
		}
		h.groupErr = fmt.Sprint(err)
	}
	return true
}

func (r *runState) openSock(h *iface, ifi *net.Interface, p proto) (*sock, error) {
	s, err := openSock(ifi, p)
	if err != nil {
		return nil, err
	}
	r.a.socketsOpen.Add(1)
	r.a.readers.Add(1)
	go r.a.read(h, s)
	return s, nil
}

func (r *runState) closeSock(s *sock) { s.stop() }

func (r *runState) closeGroups(h *iface) {
	if err := h.groups.close(); err != nil {
		r.a.log.Debug("close membership socket", "interface", h.name, "error", err)
	}
	h.groups = nil
	r.a.socketsOpen.Add(-1)
}

// closeIface closes h's sockets; its bindings stay as they are (the
// caller decides whether they wait).
func (r *runState) closeIface(h *iface) {
	h.setView(nil)
	if h.arp != nil {
		r.closeSock(h.arp)
		h.arp = nil
	}
	if h.nd != nil {
		r.closeSock(h.nd)
		h.nd = nil
	}
	if h.groups != nil {
		r.closeGroups(h)
	}
	h.index, h.mac, h.running = 0, nil, false
}

// ifaceDown records why h is unusable, logging each new reason once, and
// makes its bindings wait.
func (r *runState) ifaceDown(h *iface, reason string, now time.Time) {
	if h.open() {
		r.closeIface(h)
	}
	if reason != h.err {
		r.a.log.Warn("interface unavailable; retrying", "interface", h.name, "reason", reason,
			"retry", r.a.opts.InterfacePollInterval)
		h.err = reason
	}
	for k, b := range r.bindings {
		if k.iface == h.name && (b.phase != PhaseWaiting || b.err != reason) {
			*b = b.stop(now, reason)
			r.dirty = true
		}
	}
}

// socketFailed handles a reader that stopped on an error: the interface is
// closed and opened again at the next poll.
func (r *runState) socketFailed(ev event, now time.Time) {
	h := r.ifaces[ev.iface]
	if h == nil || (h.arp != ev.sock && h.nd != ev.sock) {
		return // already replaced
	}
	r.ifaceDown(h, fmt.Sprintf("%s socket: %v", ev.sock.proto, ev.err), now)
}
