package reach

import (
	"maps"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/pkg/lbstate"
)

// Merge joins the targets of the announcers (layer 2, BGP) into one per
// address, sorted by address: an address announced both ways is checked
// once, for every Service either lists, and keeps the conflict layer 2
// found.
func Merge(lists ...[]Target) []Target {
	byIP := map[netip.Addr]*Target{}
	for _, l := range lists {
		for _, t := range l {
			m := byIP[t.IP]
			if m == nil {
				m = &Target{IP: t.IP}
				byIP[t.IP] = m
			}
			m.Services = append(m.Services, t.Services...)
			if m.Conflict == "" {
				m.Conflict = t.Conflict
			}
			if len(t.Skip) > 0 {
				if m.Skip == nil {
					m.Skip = map[types.NamespacedName]string{}
				}
				maps.Copy(m.Skip, t.Skip)
			}
		}
	}
	out := make([]Target, 0, len(byIP))
	for _, ip := range slices.SortedFunc(maps.Keys(byIP), netip.Addr.Compare) {
		t := byIP[ip]
		slices.SortFunc(t.Services, lbstate.CompareKeys)
		t.Services = slices.Compact(t.Services)
		out = append(out, *t)
	}
	return out
}
