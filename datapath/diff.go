package datapath

import (
	"net/netip"
	"slices"
)

// Changes is what turns one State into another, for backends that apply
// increments. Every list is sorted.
type Changes struct {
	Added   []ServiceKey
	Removed []ServiceKey
	Updated []ServiceUpdate
}

// ServiceUpdate is a virtual service present in both States that differs.
type ServiceUpdate struct {
	Key ServiceKey
	// Attributes: something other than the backends changed (scheduler,
	// flags, persistence, masquerade, local-only, source ranges, owner,
	// port name).
	Attributes bool
	// Backends added, removed, or with a changed Weight/Terminating/Local.
	AddedBackends, RemovedBackends, ChangedBackends []netip.AddrPort
}

// Empty reports whether there is nothing to do.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Updated) == 0
}

// Diff returns what changes have into want. Problems are not compared.
func Diff(have, want State) Changes {
	var c Changes
	for k := range want.Services {
		c.add(k, have, want)
	}
	for k := range have.Services {
		if _, ok := want.Services[k]; !ok {
			c.Removed = append(c.Removed, k)
		}
	}
	c.sort()
	return c
}

// DiffKeys is Diff restricted to the services keys: for a caller that knows
// no other service differs, it costs time in proportion to len(keys), not to
// the size of the States. A key may be listed more than once.
func DiffKeys(have, want State, keys []ServiceKey) Changes {
	var c Changes
	seen := make(map[ServiceKey]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := want.Services[k]; ok {
			c.add(k, have, want)
		} else if _, ok := have.Services[k]; ok {
			c.Removed = append(c.Removed, k)
		}
	}
	c.sort()
	return c
}

// add records how service k (present in want) changes from have.
func (c *Changes) add(k ServiceKey, have, want State) {
	w := want.Services[k]
	h, ok := have.Services[k]
	if !ok {
		c.Added = append(c.Added, k)
		return
	}
	if h.Equal(w) {
		return
	}
	u := ServiceUpdate{Key: k, Attributes: !h.attributesEqual(w)}
	for a, wb := range w.Backends {
		hb, ok := h.Backends[a]
		switch {
		case !ok:
			u.AddedBackends = append(u.AddedBackends, a)
		case hb != wb:
			u.ChangedBackends = append(u.ChangedBackends, a)
		}
	}
	for a := range h.Backends {
		if _, ok := w.Backends[a]; !ok {
			u.RemovedBackends = append(u.RemovedBackends, a)
		}
	}
	byAddr := func(a, b netip.AddrPort) int { return a.Compare(b) }
	slices.SortFunc(u.AddedBackends, byAddr)
	slices.SortFunc(u.RemovedBackends, byAddr)
	slices.SortFunc(u.ChangedBackends, byAddr)
	c.Updated = append(c.Updated, u)
}

func (c *Changes) sort() {
	slices.SortFunc(c.Added, ServiceKey.Compare)
	slices.SortFunc(c.Removed, ServiceKey.Compare)
	slices.SortFunc(c.Updated, func(a, b ServiceUpdate) int { return a.Key.Compare(b.Key) })
}

// ApplyTo makes have's services equal want's for the keys in c, in place:
// have then holds want's VirtualService values (sharing their Backends
// maps, which nothing modifies once built).
func (c Changes) ApplyTo(have *State, want State) {
	if have.Services == nil {
		have.Services = map[ServiceKey]VirtualService{}
	}
	for _, k := range c.Removed {
		delete(have.Services, k)
	}
	for _, k := range c.Added {
		have.Services[k] = want.Services[k]
	}
	for _, u := range c.Updated {
		have.Services[u.Key] = want.Services[u.Key]
	}
}
