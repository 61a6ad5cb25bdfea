package ipam

import (
	"net/netip"
	"slices"
)

// holding is one Service's allocation.
type holding struct {
	pool  string
	ips   []netip.Addr // result order: primary family first
	share shareInfo
}

func (h *holding) ip(f Family) netip.Addr {
	for _, a := range h.ips {
		if FamilyOf(a) == f {
			return a
		}
	}
	return netip.Addr{}
}

func (h *holding) result() Result { return Result{Pool: h.pool, IPs: slices.Clone(h.ips)} }

// Allocator assigns LoadBalancer IPs to Services.
//
// It is not safe for concurrent use: callers serialise access (the
// controller holds a mutex around every call).
type Allocator struct {
	pools    map[string]*poolState
	names    []string // sorted pool names
	services map[ServiceKey]*holding
	ips      map[netip.Addr][]ServiceKey        // holders of each held address, sorted
	used     *addrSet                           // every held address
	byKey    map[string]map[netip.Addr]struct{} // sharing key -> addresses held under it
}

// New returns an Allocator with no pools.
func New() *Allocator {
	return &Allocator{
		pools:    map[string]*poolState{},
		services: map[ServiceKey]*holding{},
		ips:      map[netip.Addr][]ServiceKey{},
		used:     newAddrSet(),
		byKey:    map[string]map[netip.Addr]struct{}{},
	}
}

// Get returns svc's allocation.
func (a *Allocator) Get(svc ServiceKey) (Result, bool) {
	h, ok := a.services[svc]
	if !ok {
		return Result{}, false
	}
	return h.result(), true
}

// Release drops svc's allocation and returns the IPs it held (a shared IP
// stays in use until its last holder releases it).
func (a *Allocator) Release(svc ServiceKey) []netip.Addr {
	h := a.unhold(svc)
	if h == nil {
		return nil
	}
	return slices.Clone(h.ips)
}

// Pools returns the pool names, sorted.
func (a *Allocator) Pools() []string { return slices.Clone(a.names) }

// Services returns the keys of all Services holding an allocation, sorted.
func (a *Allocator) Services() []ServiceKey {
	keys := make([]ServiceKey, 0, len(a.services))
	for k := range a.services {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, ServiceKey.Compare)
	return keys
}

// PoolsContaining returns, sorted, the pools of which ip is an allocatable
// address (AvoidBuggyIPs applied).
func (a *Allocator) PoolsContaining(ip netip.Addr) []string {
	var out []string
	for _, n := range a.names {
		if a.pools[n].contains(ip) {
			out = append(out, n)
		}
	}
	return out
}

// Holders returns, sorted, the Services holding ip.
func (a *Allocator) Holders(ip netip.Addr) []ServiceKey { return slices.Clone(a.ips[ip]) }

// attributedTo reports whether any of holders is attributed to pool.
func (a *Allocator) attributedTo(holders []ServiceKey, pool string) bool {
	for _, k := range holders {
		if a.services[k].pool == pool {
			return true
		}
	}
	return false
}

// hold records h as svc's allocation and updates every index and counter.
// The caller has checked that h is compatible with existing holders.
func (a *Allocator) hold(svc ServiceKey, h *holding) {
	a.services[svc] = h
	for _, ip := range h.ips {
		fi := familyIndex(FamilyOf(ip))
		hs, held := a.ips[ip]
		if !held {
			a.used.add(ip)
			for _, n := range a.names {
				if ps := a.pools[n]; ps.contains(ip) {
					ps.used[fi]++
				}
			}
		}
		if ps := a.pools[h.pool]; ps != nil && !a.attributedTo(hs, h.pool) {
			ps.assigned[fi]++
		}
		i, _ := slices.BinarySearchFunc(hs, svc, ServiceKey.Compare)
		a.ips[ip] = slices.Insert(hs, i, svc)
		if k := h.share.key; k != "" {
			set := a.byKey[k]
			if set == nil {
				set = map[netip.Addr]struct{}{}
				a.byKey[k] = set
			}
			set[ip] = struct{}{}
		}
	}
}

// unhold removes svc's allocation, exactly undoing hold. It returns the
// removed holding, or nil.
func (a *Allocator) unhold(svc ServiceKey) *holding {
	h := a.services[svc]
	if h == nil {
		return nil
	}
	delete(a.services, svc)
	for _, ip := range h.ips {
		fi := familyIndex(FamilyOf(ip))
		hs := slices.DeleteFunc(a.ips[ip], func(k ServiceKey) bool { return k == svc })
		if ps := a.pools[h.pool]; ps != nil && !a.attributedTo(hs, h.pool) {
			ps.assigned[fi]--
		}
		if len(hs) > 0 {
			a.ips[ip] = hs
			continue
		}
		delete(a.ips, ip)
		if k := h.share.key; k != "" {
			delete(a.byKey[k], ip)
			if len(a.byKey[k]) == 0 {
				delete(a.byKey, k)
			}
		}
		a.used.remove(ip)
		for _, n := range a.names {
			if ps := a.pools[n]; ps.contains(ip) {
				ps.used[fi]--
			}
		}
	}
	return h
}

// conflict checks whether a service with share info s may hold ip next to
// its current holders. It returns nil or an IPInUse/SharingConflict error
// naming the lowest conflicting holder.
func (a *Allocator) conflict(svc ServiceKey, ip netip.Addr, s shareInfo) *AllocationError {
	for _, k := range a.ips[ip] {
		if k == svc {
			continue
		}
		other := a.services[k].share
		why := shareConflict(s, other)
		if why == "" {
			continue
		}
		holder := k
		reason := IPInUse
		if sameKey(s, other) {
			reason = SharingConflict
		} else if s.key == "" && other.key == "" {
			why = "" // plain "in use" says it all
		}
		return &AllocationError{Reason: reason, Service: svc, IP: ip, Holder: &holder, Detail: why}
	}
	return nil
}

// usable reports whether svc may take ip (free, or shareable).
func (a *Allocator) usable(svc ServiceKey, ip netip.Addr, s shareInfo) bool {
	return a.conflict(svc, ip, s) == nil
}

// pickShared returns the lowest address of family f in ps already held
// under s's sharing key whose holders all accept s.
func (a *Allocator) pickShared(svc ServiceKey, ps *poolState, f Family, s shareInfo) (netip.Addr, bool) {
	if s.key == "" {
		return netip.Addr{}, false
	}
	var best netip.Addr
	for ip := range a.byKey[s.key] {
		if FamilyOf(ip) != f || !ps.contains(ip) || (best.IsValid() && best.Less(ip)) {
			continue
		}
		if a.usable(svc, ip, s) {
			best = ip
		}
	}
	return best, best.IsValid()
}

// lowestFree returns the lowest unheld address of family f in ps.
func (a *Allocator) lowestFree(ps *poolState, f Family) (netip.Addr, bool) {
	for _, r := range ps.ranges[familyIndex(f)] {
		// Search the parts of r between the excluded anycast addresses.
		first := r.First
		for _, x := range ps.anycastIn(r) {
			if first.Less(x) {
				if ip, ok := a.used.lowestFree(first, x.Prev(), ps.spec.AvoidBuggyIPs); ok {
					return ip, true
				}
			}
			first = x.Next() // valid: a prefix of /126 or shorter does not start at the last address
		}
		if first.Compare(r.Last) <= 0 {
			if ip, ok := a.used.lowestFree(first, r.Last, ps.spec.AvoidBuggyIPs); ok {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// names returns the names of pss, in order.
func names(pss []*poolState) []string {
	out := make([]string, len(pss))
	for i, ps := range pss {
		out[i] = ps.name()
	}
	return out
}
