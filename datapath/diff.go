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
	// flags, persistence, masquerade, local-only, owner, port name).
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
	for k, w := range want.Services {
		h, ok := have.Services[k]
		if !ok {
			c.Added = append(c.Added, k)
			continue
		}
		if h.Equal(w) {
			continue
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
	for k := range have.Services {
		if _, ok := want.Services[k]; !ok {
			c.Removed = append(c.Removed, k)
		}
	}
	slices.SortFunc(c.Added, ServiceKey.Compare)
	slices.SortFunc(c.Removed, ServiceKey.Compare)
	slices.SortFunc(c.Updated, func(a, b ServiceUpdate) int { return a.Key.Compare(b.Key) })
	return c
}
