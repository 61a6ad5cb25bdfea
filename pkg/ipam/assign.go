package ipam

import (
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/pkg/iprange"
)

// Assign restores exactly ips for req.Service, e.g. from Service status
// after a controller restart. The addresses must lie in one common pool
// (RequestedPool preferred, then the Service's current pool, then by name)
// and must be free or shareable; pool selectors and autoAssign are not
// checked, because an existing allocation is never taken away for policy
// reasons. Requested IPs and the family policy are not checked either: a
// later Allocate with the same request reconciles those, keeping what it can.
// On error the Service keeps its previous allocation.
func (a *Allocator) Assign(req Request, ips []netip.Addr) (Result, error) {
	p, perr := newBasePlan(&req)
	if perr != nil {
		return Result{}, perr
	}
	svc := req.Service
	ordered, perr := orderIPs(svc, ips, req.Families)
	if perr != nil {
		return Result{}, perr
	}
	old := a.services[svc]
	if old != nil {
		a.unhold(svc)
	}
	h, aerr := a.assignPool(p, ordered, old)
	if aerr != nil {
		if old != nil {
			a.hold(svc, old)
		}
		return Result{}, aerr
	}
	a.hold(svc, h)
	return h.result(), nil
}

// orderIPs validates Assign's addresses and puts them in families order.
func orderIPs(svc ServiceKey, ips []netip.Addr, families []Family) ([]netip.Addr, *AllocationError) {
	if len(ips) == 0 || len(ips) > 2 {
		return nil, invalid(svc, "need one or two IPs to assign, got %d", len(ips))
	}
	for _, ip := range ips {
		if why := iprange.CheckAddr(ip); why != "" {
			return nil, invalid(svc, "IP to assign: %s", why)
		}
	}
	if len(ips) == 2 && FamilyOf(ips[0]) == FamilyOf(ips[1]) {
		return nil, invalid(svc, "two %s addresses to assign (%s, %s)", FamilyOf(ips[0]), ips[0], ips[1])
	}
	out := slices.Clone(ips)
	rank := func(ip netip.Addr) int {
		if i := slices.Index(families, FamilyOf(ip)); i >= 0 {
			return i
		}
		return len(families)
	}
	slices.SortStableFunc(out, func(x, y netip.Addr) int { return rank(x) - rank(y) })
	return out, nil
}

func (a *Allocator) assignPool(p *plan, ips []netip.Addr, old *holding) (*holding, *AllocationError) {
	svc := p.req.Service
	for _, ip := range ips {
		if err := a.conflict(svc, ip, p.share); err != nil {
			return nil, err
		}
	}
	common, err := a.commonPools(svc, ips, "")
	if err != nil {
		return nil, err
	}
	pick := common[0]
	for _, ps := range common {
		if old != nil && ps.name() == old.pool {
			pick = ps
		}
	}
	for _, ps := range common {
		if ps.name() == p.req.RequestedPool {
			pick = ps
		}
	}
	return &holding{pool: pick.name(), ips: ips, share: p.share}, nil
}
