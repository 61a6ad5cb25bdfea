package allocation

import (
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/ipam"
)

// IPAMPools adapts the configuration's pools to the allocator's input,
// sorted by name. Each call returns fresh values. It lives here, with the
// allocator's users, so that config depends on neither pkg/ipam nor the
// allocator.
func IPAMPools(cfg *config.Config) []ipam.Pool {
	pools := cfg.Pools()
	out := make([]ipam.Pool, len(pools))
	for i, p := range pools {
		ip := ipam.Pool{
			Name:          p.Name,
			Ranges:        p.Ranges(),
			AutoAssign:    p.AutoAssign,
			AvoidBuggyIPs: p.AvoidBuggyIPs,
		}
		if a := p.Allocation; a != nil {
			ip.Allocation = &ipam.AllocationPolicy{
				Priority:           a.Priority,
				Namespaces:         slices.Clone(a.Namespaces),
				NamespaceSelectors: ipamSelectors(a.NamespaceSelectors),
				ServiceSelectors:   ipamSelectors(a.ServiceSelectors),
			}
		}
		out[i] = ip
	}
	return out
}

// ipamSelector adapts a labels.Selector to ipam.Selector.
type ipamSelector struct{ sel labels.Selector }

func (s ipamSelector) Matches(l map[string]string) bool { return s.sel.Matches(labels.Set(l)) }

// String shows the selector in logs and test failures.
func (s ipamSelector) String() string { return s.sel.String() }

func ipamSelectors(ss config.Selectors) []ipam.Selector {
	if len(ss) == 0 {
		return nil
	}
	out := make([]ipam.Selector, len(ss))
	for i, s := range ss {
		out[i] = ipamSelector{s}
	}
	return out
}
