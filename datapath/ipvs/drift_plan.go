package ipvs

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/datapath"
)

// observed is what a drift check reads of the kernel: cheap to read
// whatever the number of services (one interface lookup, one address dump,
// one service dump without destinations, a rule dump per chain of the
// fixed nftables skeleton).
type observed struct {
	// link: the dummy interface exists, is a dummy and is up.
	link bool
	vips map[netip.Addr]bool
	// services: the owned IPVS services, attributes only (dests nil).
	services map[datapath.ServiceKey]kService
	// nft: the table's meta rule names this skeleton and each of its
	// chains holds the skeleton's number of rules.
	nft bool
}

// driftRepair is what a drift check must put right.
type driftRepair struct {
	link bool
	// vips: addresses on the dummy differ from the State's.
	vips bool
	// services to re-read and re-sync (missing, unexpected or with other
	// attributes), sorted.
	services []datapath.ServiceKey
	nft      bool
}

func (r driftRepair) empty() bool {
	return !r.link && !r.vips && len(r.services) == 0 && !r.nft
}

// planDrift compares what a check observed with what the backend believes
// the kernel holds (believed: its view after its own writes) and the VIPs
// of the applied State. Destinations are not compared here (the dump has
// none); the periodic full resync covers them. Pure.
func planDrift(believed map[datapath.ServiceKey]*kService, wantVIPs map[netip.Addr]bool, obs observed) driftRepair {
	r := driftRepair{link: !obs.link, nft: !obs.nft, vips: !maps.Equal(wantVIPs, obs.vips)}
	for k, b := range believed {
		if o, ok := obs.services[k]; !ok || !o.sameAttrs(*b) {
			r.services = append(r.services, k)
		}
	}
	for k := range obs.services {
		if _, ok := believed[k]; !ok {
			r.services = append(r.services, k)
		}
	}
	slices.SortFunc(r.services, datapath.ServiceKey.Compare)
	return r
}
