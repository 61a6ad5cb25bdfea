package ipam

import (
	"fmt"
	"net/netip"
	"slices"
)

// Changes reports what SetPools did to existing allocations.
type Changes struct {
	// Lost: Services whose addresses are no longer all inside one pool;
	// their allocations were dropped and they need a new Allocate.
	Lost []ServiceKey
	// Moved: Services that kept their addresses but are now attributed to
	// another pool (their old pool was deleted or shrank, another contains
	// them).
	Moved []ServiceKey
	// Ignored: problems in the pool list that SetPools skipped (duplicate
	// or empty names, invalid ranges). ValidatePools reports the same.
	Ignored []string
}

// SetPools replaces the pool configuration. Every held address stays
// where it is: a Service keeps its pool if that pool still contains all its
// addresses, else it is attributed to the first pool by name that does
// (Moved), else its allocation is dropped (Lost). No other Service's
// addresses change. Selector and autoAssign changes never take addresses
// away.
func (a *Allocator) SetPools(pools []Pool) Changes {
	var ch Changes
	a.pools = map[string]*poolState{}
	a.names = nil
	for _, p := range pools {
		if p.Name == "" {
			ch.Ignored = append(ch.Ignored, "ignoring address pool with empty name")
			continue
		}
		if a.pools[p.Name] != nil {
			ch.Ignored = append(ch.Ignored, fmt.Sprintf("ignoring second definition of address pool %q", p.Name))
			continue
		}
		ps, notes := newPoolState(p)
		ch.Ignored = append(ch.Ignored, notes...)
		a.pools[p.Name] = ps
		a.names = append(a.names, p.Name)
	}
	slices.Sort(a.names)

	// Rebuild every index from the surviving allocations: simple, and
	// counters cannot drift.
	keys := a.Services()
	old := a.services
	a.services = map[ServiceKey]*holding{}
	a.ips = map[netip.Addr][]ServiceKey{}
	a.used = newAddrSet()
	a.byKey = map[string]map[netip.Addr]struct{}{}
	for _, k := range keys {
		h := old[k]
		if ps := a.pools[h.pool]; ps == nil || !containsAll(ps, h.ips) {
			moved := false
			for _, n := range a.names {
				if containsAll(a.pools[n], h.ips) {
					h.pool, moved = n, true
					break
				}
			}
			if !moved {
				ch.Lost = append(ch.Lost, k)
				continue
			}
			ch.Moved = append(ch.Moved, k)
		}
		a.hold(k, h)
	}
	return ch
}

func containsAll(ps *poolState, ips []netip.Addr) bool {
	for _, ip := range ips {
		if !ps.contains(ip) {
			return false
		}
	}
	return true
}
