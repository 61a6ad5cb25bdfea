package datapath

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/types"
)

// SetAside is an endpoint that gets no new connections only because the
// speakers hold its node dead (Inputs.DeadNodes).
type SetAside struct {
	Service  types.NamespacedName
	Endpoint netip.AddrPort
	Node     string
}

// SetAsideOnDeadNodes lists the endpoints Desired(in) sets aside because
// their node is in in.DeadNodes: those with new connections when no node is
// held dead and none with in.DeadNodes. It runs Desired both ways rather
// than restating its rule, so it answers what the datapath does (for
// in.Node; every node gives the same answer for Cluster Services without
// topology hints, and Local Services never use another node's endpoints).
// Sorted by Service, then endpoint; each endpoint once, whatever the number
// of VIPs and ports that use it.
func SetAsideOnDeadNodes(in Inputs) []SetAside {
	if len(in.DeadNodes) == 0 {
		return nil
	}
	with := Desired(in)
	in.DeadNodes = nil
	without := Desired(in)
	nodeOf := endpointNodes(in)
	seen := map[SetAside]bool{}
	for k, vs := range with.Services {
		before := without.Services[k].Backends
		for addr, b := range vs.Backends {
			if b.Weight == 0 && before[addr].Weight > 0 {
				seen[SetAside{Service: vs.Owner, Endpoint: addr, Node: nodeOf[addr.Addr()]}] = true
			}
		}
	}
	return slices.SortedFunc(maps.Keys(seen), func(a, b SetAside) int {
		return cmp.Or(cmp.Compare(a.Service.Namespace, b.Service.Namespace), cmp.Compare(a.Service.Name, b.Service.Name),
			a.Endpoint.Compare(b.Endpoint))
	})
}

// endpointNodes maps each endpoint address of the slices to its nodeName,
// the way collectEndpoints reads it (first address, unmapped).
func endpointNodes(in Inputs) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for _, sl := range in.EndpointSlices {
		if sl == nil {
			continue
		}
		for _, ep := range sl.Endpoints {
			if len(ep.Addresses) == 0 || ep.NodeName == nil {
				continue
			}
			if a, err := netip.ParseAddr(ep.Addresses[0]); err == nil {
				out[a.Unmap()] = *ep.NodeName
			}
		}
	}
	return out
}
