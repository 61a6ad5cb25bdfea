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
	// dests: the destinations of the services this check audited (see
	// auditBatch), by service.
	dests map[datapath.ServiceKey]map[netip.AddrPort]kDest
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
// of the applied State. Destinations (a real server deleted with ipvsadm
// -d, a weight changed) are compared for the services the check audited,
// a different few each time (auditBatch). Pure.
func planDrift(believed map[datapath.ServiceKey]*kService, wantVIPs map[netip.Addr]bool, obs observed) driftRepair {
	r := driftRepair{link: !obs.link, nft: !obs.nft, vips: !maps.Equal(wantVIPs, obs.vips)}
	for k, b := range believed {
		o, ok := obs.services[k]
		d, audited := obs.dests[k]
		if !ok || !o.sameAttrs(*b) || audited && !maps.Equal(d, b.dests) {
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

// auditRounds is how many checks a pass over every service's destinations
// takes at most (one a second: about a minute), and auditMin how many
// services a check audits at least, so a small node goes round faster.
const (
	auditRounds = 60
	auditMin    = 16
)

// auditBatch returns the services whose destinations a check reads: the
// next ones of order from index next, about len(order)/auditRounds of
// them (at least auditMin), and where the following check goes on (0:
// the pass is over, and the caller takes a new order). Services in order
// that are gone since are skipped by the caller. Pure.
func auditBatch(order []datapath.ServiceKey, next int) ([]datapath.ServiceKey, int) {
	if next >= len(order) {
		return nil, 0
	}
	n := max(auditMin, (len(order)+auditRounds-1)/auditRounds)
	end := min(next+n, len(order))
	if end == len(order) {
		return order[next:], 0
	}
	return order[next:end], end
}
