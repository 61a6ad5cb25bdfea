package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Allocate gives req.Service addresses:
//
//   - Pool order: pools containing the requested IPs (restricted to
//     RequestedPool when set), else RequestedPool, else auto-assign pools
//     whose serviceAllocation matches, by Priority then name, then the other
//     auto-assign pools by name. When the Service already has an allocation
//     its pool is tried first, and its old addresses are preferred, so a
//     changed request moves as little as possible.
//   - If the Service's current allocation still satisfies req, it is
//     returned unchanged (a PreferDualStack Service holding only its primary
//     family gets the missing family added from the same pool if possible).
//   - On error the Service keeps its previous allocation.
func (a *Allocator) Allocate(req Request) (Result, error) {
	p, perr := newPlan(&req)
	if perr != nil {
		return Result{}, perr
	}
	svc := req.Service
	old := a.services[svc]
	if old != nil && a.satisfies(svc, old, p) {
		a.refresh(svc, old, p)
		return a.services[svc].result(), nil
	}
	if old != nil {
		a.unhold(svc)
	}
	h, aerr := a.choose(p, old)
	if aerr != nil {
		if old != nil {
			a.hold(svc, old) // exact restore: nothing else changed meanwhile
		}
		return Result{}, aerr
	}
	a.hold(svc, h)
	return h.result(), nil
}

// satisfies reports whether h still meets p (see Allocate).
func (a *Allocator) satisfies(svc ServiceKey, h *holding, p *plan) bool {
	if a.pools[h.pool] == nil {
		return false
	}
	if p.req.RequestedPool != "" && h.pool != p.req.RequestedPool {
		return false
	}
	for fi, r := range p.requested {
		if r.IsValid() && h.ip(familyAt(fi)) != r {
			return false
		}
	}
	switch p.req.FamilyPolicy {
	case SingleStack:
		if len(h.ips) != 1 || FamilyOf(h.ips[0]) != p.primary() {
			return false
		}
	case RequireDualStack:
		if len(h.ips) != 2 || !h.ip(p.families[0]).IsValid() || !h.ip(p.families[1]).IsValid() {
			return false
		}
	case PreferDualStack:
		if !h.ip(p.primary()).IsValid() {
			return false
		}
		for _, ip := range h.ips {
			if !containsFamily(p.families, FamilyOf(ip)) {
				return false
			}
		}
	}
	for _, ip := range h.ips {
		if a.conflict(svc, ip, p.share) != nil {
			return false
		}
	}
	return true
}

// refresh stores p's sharing facts and family order for a satisfying
// holding, and tops up a PreferDualStack allocation missing a family.
func (a *Allocator) refresh(svc ServiceKey, h *holding, p *plan) {
	nh := &holding{pool: h.pool, share: p.share}
	ps := a.pools[h.pool]
	for _, f := range p.families {
		ip := h.ip(f)
		if !ip.IsValid() && p.req.FamilyPolicy == PreferDualStack && ps.hasFamily(f) {
			ip, _ = a.pickFor(svc, ps, f, p.share, nil)
		}
		if ip.IsValid() {
			nh.ips = append(nh.ips, ip)
		}
	}
	if slices.Equal(nh.ips, h.ips) && sameShareInfo(nh.share, h.share) {
		return
	}
	a.unhold(svc)
	a.hold(svc, nh)
}

func sameShareInfo(x, y shareInfo) bool {
	return x.key == y.key && x.local == y.local && x.backend == y.backend && slices.Equal(x.ports, y.ports)
}

// pickFor chooses an address of family f in ps for svc: its old address if
// still usable, else one shared under its sharing key, else the lowest free.
func (a *Allocator) pickFor(svc ServiceKey, ps *poolState, f Family, s shareInfo, old *holding) (netip.Addr, bool) {
	if old != nil {
		if ip := old.ip(f); ip.IsValid() && ps.contains(ip) && a.usable(svc, ip, s) {
			return ip, true
		}
	}
	if ip, ok := a.pickShared(svc, ps, f, s); ok {
		return ip, true
	}
	return a.lowestFree(ps, f)
}

// choose computes a new allocation for p without changing any state.
// svc's own previous holding (old) has already been released.
func (a *Allocator) choose(p *plan, old *holding) (*holding, *AllocationError) {
	svc := p.req.Service
	for _, r := range p.requested {
		if r.IsValid() {
			if err := a.conflict(svc, r, p.share); err != nil {
				return nil, err
			}
		}
	}
	cands, err := a.candidates(p)
	if err != nil {
		return nil, err
	}
	if old != nil {
		if i := slices.IndexFunc(cands, func(ps *poolState) bool { return ps.name() == old.pool }); i > 0 {
			ps := cands[i]
			cands = append(append([]*poolState{ps}, cands[:i]...), cands[i+1:]...)
		}
	}
	required := p.families
	if p.req.FamilyPolicy == PreferDualStack {
		required = p.families[:1]
	}
	var (
		fallback  *holding
		exhausted []*poolState
		details   []string
		missing   [2]bool
	)
	for _, ps := range cands {
		got, full, miss := a.tryPool(svc, ps, p, old)
		h := &holding{pool: ps.name(), share: p.share}
		for _, f := range p.families {
			if ip := got[familyIndex(f)]; ip.IsValid() {
				h.ips = append(h.ips, ip)
			}
		}
		if len(h.ips) == len(p.families) {
			return h, nil
		}
		if fallback == nil && p.req.FamilyPolicy == PreferDualStack && got[familyIndex(p.primary())].IsValid() {
			fallback = &holding{pool: ps.name(), share: p.share, ips: []netip.Addr{got[familyIndex(p.primary())]}}
		}
		lacks := false
		for _, f := range required {
			if containsFamily(miss, f) {
				missing[familyIndex(f)] = true
				lacks = true
			}
		}
		if lacks {
			continue
		}
		var parts []string
		for _, f := range required {
			if containsFamily(full, f) {
				fi := familyIndex(f)
				parts = append(parts, fmt.Sprintf("%s: %d of %d in use", f, ps.used[fi], ps.total[fi].sat64()))
			}
		}
		if len(parts) > 0 {
			exhausted = append(exhausted, ps)
			details = append(details, strings.Join(parts, ", "))
		}
	}
	if fallback != nil {
		return fallback, nil
	}
	if len(exhausted) > 0 {
		e := &AllocationError{Reason: PoolExhausted, Service: svc, Pools: names(exhausted), Detail: details[0]}
		if len(exhausted) > 1 {
			for i := range details {
				details[i] = exhausted[i].name() + ": " + details[i]
			}
			e.Detail = strings.Join(details, "; ")
		}
		return nil, e
	}
	var fams []Family
	for _, f := range required {
		if missing[familyIndex(f)] {
			fams = append(fams, f)
		}
	}
	return nil, &AllocationError{Reason: FamilyUnavailable, Service: svc, Pools: names(cands), Families: fams}
}

// tryPool picks an address per family of p in ps. It returns the picks by
// family index and the families the pool is full for or lacks entirely.
func (a *Allocator) tryPool(svc ServiceKey, ps *poolState, p *plan, old *holding) (got [2]netip.Addr, full, miss []Family) {
	for _, f := range p.families {
		fi := familyIndex(f)
		if r := p.requested[fi]; r.IsValid() {
			got[fi] = r // candidates contain it; choose checked it is usable
			continue
		}
		if !ps.hasFamily(f) {
			miss = append(miss, f)
			continue
		}
		if ip, ok := a.pickFor(svc, ps, f, p.share, old); ok {
			got[fi] = ip
		} else {
			full = append(full, f)
		}
	}
	return got, full, miss
}
