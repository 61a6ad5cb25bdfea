package bgpsync

import (
	"maps"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/reach"
)

// noteAdvertised records, for the IPs an Update decided again, the
// Services of those this node advertises: the reachability check's
// targets. Work in proportion to the change.
func (s *Syncer) noteAdvertised(delta bgpplan.Delta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.advertised == nil {
		s.advertised = map[netip.Addr][]types.NamespacedName{}
	}
	for _, ip := range delta.Touched {
		if svcs := s.tracker.Advertised(ip); len(svcs) > 0 {
			s.advertised[ip] = svcs
		} else {
			delete(s.advertised, ip)
		}
	}
}

// Announced lists the addresses this node advertises over BGP (to at
// least one peer, established or not: the routers may use the route as
// soon as a session comes up) with their Services, sorted, for the
// reachability check. With externalTrafficPolicy Cluster that is every
// node the advertisements select, with Local only those with a ready
// local endpoint (bgpplan decides).
func (s *Syncer) Announced() []reach.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]reach.Target, 0, len(s.advertised))
	for _, ip := range slices.SortedFunc(maps.Keys(s.advertised), netip.Addr.Compare) {
		out = append(out, reach.Target{IP: ip, Services: s.advertised[ip]})
	}
	return out
}
