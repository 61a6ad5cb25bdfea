package ipam

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// candidates lists the pools to try for p, in order, or explains why there
// are none.
func (a *Allocator) candidates(p *plan) ([]*poolState, *AllocationError) {
	req := p.req
	svc := req.Service
	if req.RequestedPool != "" && a.pools[req.RequestedPool] == nil {
		return nil, &AllocationError{Reason: PoolNotFound, Service: svc, Pools: []string{req.RequestedPool}}
	}
	var ips []netip.Addr
	for _, f := range p.families {
		if r := p.requested[familyIndex(f)]; r.IsValid() {
			ips = append(ips, r)
		}
	}
	if len(ips) > 0 || req.RequestedPool != "" {
		var cands []*poolState
		if len(ips) > 0 {
			common, err := a.commonPools(svc, ips, req.RequestedPool)
			if err != nil {
				return nil, err
			}
			cands = common
		} else {
			cands = []*poolState{a.pools[req.RequestedPool]}
		}
		allowed := slices.DeleteFunc(slices.Clone(cands), func(ps *poolState) bool { return !ps.allows(req) })
		if len(allowed) == 0 {
			return nil, &AllocationError{Reason: PoolNotAllowed, Service: svc, Pools: names(cands)}
		}
		return allowed, nil
	}
	var withPolicy, plain []*poolState
	var tried []string
	for _, n := range a.names {
		ps := a.pools[n]
		if !ps.spec.AutoAssign {
			continue
		}
		tried = append(tried, n)
		switch {
		case !ps.allows(req):
		case ps.spec.Allocation != nil:
			withPolicy = append(withPolicy, ps)
		default:
			plain = append(plain, ps)
		}
	}
	// Stable: equal priorities stay in name order.
	slices.SortStableFunc(withPolicy, func(x, y *poolState) int {
		return cmp.Compare(x.spec.Allocation.Priority, y.spec.Allocation.Priority)
	})
	cands := append(withPolicy, plain...)
	if len(cands) == 0 {
		e := &AllocationError{Reason: NoMatchingPool, Service: svc, Pools: tried}
		switch {
		case len(a.names) == 0:
			e.Detail = "no address pools are configured"
		case len(tried) == 0:
			e.Detail = "no pool has autoAssign enabled"
		}
		return nil, e
	}
	return cands, nil
}

// commonPools returns, sorted by name, the pools containing every ip (only
// pool only, when set), or explains why there are none.
func (a *Allocator) commonPools(svc ServiceKey, ips []netip.Addr, only string) ([]*poolState, *AllocationError) {
	var common []*poolState
	var where []string
	for i, ip := range ips {
		in := a.PoolsContaining(ip)
		if len(in) == 0 {
			return nil, &AllocationError{Reason: IPNotInAnyPool, Service: svc, IP: ip, Detail: a.buggyNote(ip)}
		}
		if only != "" && !slices.Contains(in, only) {
			return nil, &AllocationError{Reason: IPNotInAnyPool, Service: svc, IP: ip, Pools: []string{only}, Detail: a.buggyNote(ip)}
		}
		where = append(where, fmt.Sprintf("%s is in %s", ip, poolNoun(in)))
		var here []*poolState
		for _, n := range in {
			if only == "" || n == only {
				here = append(here, a.pools[n])
			}
		}
		if i == 0 {
			common = here
			continue
		}
		common = slices.DeleteFunc(common, func(ps *poolState) bool { return !slices.Contains(here, ps) })
	}
	if len(common) == 0 {
		return nil, &AllocationError{Reason: NoCommonPool, Service: svc, Detail: strings.Join(where, ", ")}
	}
	return common, nil
}

// buggyNote explains that ip is excluded by AvoidBuggyIPs, if it is.
func (a *Allocator) buggyNote(ip netip.Addr) string {
	var hit []string
	for _, n := range a.names {
		if ps := a.pools[n]; ps.spec.AvoidBuggyIPs && ps.inRanges(ip) && (isBuggy(ip) || ps.isAnycast(ip)) {
			hit = append(hit, n)
		}
	}
	switch {
	case len(hit) == 0:
		return ""
	case isBuggy(ip):
		return fmt.Sprintf("%s excludes addresses ending in .0 and .255 (avoidBuggyIPs)", poolNoun(hit))
	default:
		return fmt.Sprintf("%s excludes %s, the subnet-router anycast address of its range (avoidBuggyIPs)", poolNoun(hit), ip)
	}
}
