package ipvs

import (
	"net/netip"
	"slices"
	"time"

	"github.com/ironlb/ironlb/datapath"
)

type opKind int

const (
	opAddService opKind = iota
	opUpdateService
	opDelService
	opAddDest
	opUpdateDest
	opDelDest
)

func (k opKind) String() string {
	return [...]string{"add service", "update service", "delete service", "add destination", "update destination", "delete destination"}[k]
}

// op is one IPVS write.
type op struct {
	kind opKind
	key  datapath.ServiceKey
	svc  kService // attributes, for add/update service
	dest netip.AddrPort
	d    kDest
}

// plan is what it takes to turn one service from have into want.
type plan struct {
	ops []op
	// drain: destinations just set to weight 0 or found at weight 0
	// outside the State; they are removed once idle.
	drain []netip.AddrPort
	// undrain: destinations back in the State.
	undrain []netip.AddrPort
	// flush: delete the UDP conntrack entries of these destinations; an
	// invalid AddrPort means the whole service.
	flush []netip.AddrPort
}

// planService compares the kernel's service (nil: absent) with the wanted
// one (nil: to be removed). draining holds the destinations of this service
// that are already being drained (since when). Pure: no I/O.
func planService(key datapath.ServiceKey, have, want *kService, draining map[netip.AddrPort]time.Time) plan {
	var p plan
	udp := key.Protocol == datapath.UDP
	switch {
	case want == nil && have == nil:
		return p
	case want == nil:
		p.ops = append(p.ops, op{kind: opDelService, key: key})
		if udp {
			p.flush = append(p.flush, netip.AddrPort{})
		}
		return p
	case have == nil:
		p.ops = append(p.ops, op{kind: opAddService, key: key, svc: *want})
		for _, a := range sortedDests(want.dests) {
			p.ops = append(p.ops, op{kind: opAddDest, key: key, dest: a, d: want.dests[a]})
		}
		if udp && want.usable() {
			// Datagrams sent while the VIP had no service left conntrack
			// entries that would keep bypassing IPVS's NAT.
			p.flush = append(p.flush, netip.AddrPort{})
		}
		return p
	}
	if !have.sameAttrs(*want) {
		p.ops = append(p.ops, op{kind: opUpdateService, key: key, svc: *want})
	}
	for _, a := range sortedDests(want.dests) {
		w := want.dests[a]
		h, ok := have.dests[a]
		switch {
		case !ok:
			p.ops = append(p.ops, op{kind: opAddDest, key: key, dest: a, d: w})
		case h != w:
			p.ops = append(p.ops, op{kind: opUpdateDest, key: key, dest: a, d: w})
		}
		if _, ok := draining[a]; ok {
			p.undrain = append(p.undrain, a)
		}
	}
	for _, a := range sortedDests(have.dests) {
		if _, ok := want.dests[a]; ok {
			continue
		}
		h := have.dests[a]
		switch {
		case udp:
			p.ops = append(p.ops, op{kind: opDelDest, key: key, dest: a})
			p.flush = append(p.flush, a)
		case h.weight != 0:
			p.ops = append(p.ops, op{kind: opUpdateDest, key: key, dest: a, d: kDest{weight: 0, fwd: h.fwd}})
			p.drain = append(p.drain, a)
		case !isDraining(draining, a):
			// Weight 0 already, not known as draining: left by a previous
			// instance, or dropped by the State while it was terminating.
			p.drain = append(p.drain, a)
		}
	}
	if udp && !have.usable() && want.usable() {
		p.flush = append(p.flush, netip.AddrPort{})
	}
	return p
}

func isDraining(d map[netip.AddrPort]time.Time, a netip.AddrPort) bool {
	_, ok := d[a]
	return ok
}

func sortedDests(m map[netip.AddrPort]kDest) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// apply records a successful op in the kernel view.
func (o op) apply(view map[datapath.ServiceKey]*kService) {
	switch o.kind {
	case opAddService:
		s := o.svc.clone()
		s.dests = map[netip.AddrPort]kDest{}
		view[o.key] = &s
	case opUpdateService:
		if s := view[o.key]; s != nil {
			s.sched, s.flags, s.timeout, s.netmask = o.svc.sched, o.svc.flags, o.svc.timeout, o.svc.netmask
		}
	case opDelService:
		delete(view, o.key)
	case opAddDest, opUpdateDest:
		if s := view[o.key]; s != nil {
			s.dests[o.dest] = o.d
		}
	case opDelDest:
		if s := view[o.key]; s != nil {
			delete(s.dests, o.dest)
		}
	}
}
