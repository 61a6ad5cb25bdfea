package datapath

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/pkg/readiness"
)

// endpoint is one address:port of a Service port, merged over slices.
type endpoint struct {
	addr netip.AddrPort
	readiness.State
	local bool
	node  string // the endpoint's nodeName ("" if unset)
	// Topology hints: the zones and nodes the EndpointSlice controller
	// meant the endpoint for (nil: none).
	forZones, forNodes []string
}

// collectEndpoints returns the endpoints of one Service port in one address
// family, deduplicated across slices. Slices must be sorted by name.
//
// Which endpoints serve the port, and in what state, is pkg/readiness's
// rule (kube-proxy's: first address, missing ready/serving true, slice
// ports matched by name and protocol). Duplicates (the same address:port in
// two slices, e.g. while the EndpointSlice controller moves an endpoint)
// merge deterministically: the best-ranked copy wins, and the endpoint is
// local if any copy says so.
func collectEndpoints(node string, slices []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, v6 bool, report func(Problem)) []endpoint {
	want := discoveryv1.AddressTypeIPv4
	if v6 {
		want = discoveryv1.AddressTypeIPv6
	}
	byAddr := map[netip.AddrPort]int{}
	var out []endpoint
	for _, sl := range slices {
		if sl.AddressType != want {
			continue
		}
		port, ok := readiness.SlicePort(sl, portName, proto)
		if !ok {
			continue
		}
		obj := types.NamespacedName{Namespace: sl.Namespace, Name: sl.Name}
		for i, ep := range sl.Endpoints {
			field := fmt.Sprintf("endpoints[%d].addresses", i)
			a, skip := readiness.Address(sl, ep)
			switch skip {
			case readiness.NoAddress:
				report(Problem{Kind: "EndpointSlice", Object: obj, Field: field, Message: "no address; endpoint skipped"})
				continue
			case readiness.NotIP:
				report(Problem{Kind: "EndpointSlice", Object: obj, Field: field + "[0]", Message: fmt.Sprintf("%q is not an IP address; endpoint skipped", ep.Addresses[0])})
				continue
			case readiness.WrongFamily:
				report(Problem{Kind: "EndpointSlice", Object: obj, Field: field + "[0]", Message: fmt.Sprintf("%s does not match addressType %s; endpoint skipped", ep.Addresses[0], sl.AddressType)})
				continue
			}
			e := endpoint{
				addr:  netip.AddrPortFrom(a, port),
				State: readiness.Of(ep.Conditions),
				node:  readiness.NodeOf(ep),
			}
			e.local = ep.NodeName != nil && e.node == node
			if ep.Hints != nil {
				for _, z := range ep.Hints.ForZones {
					e.forZones = append(e.forZones, z.Name)
				}
				for _, n := range ep.Hints.ForNodes {
					e.forNodes = append(e.forNodes, n.Name)
				}
			}
			if j, dup := byAddr[e.addr]; dup {
				prev := out[j]
				local := prev.local || e.local
				if e.Rank() > prev.Rank() {
					out[j] = e
				}
				out[j].local = local
				continue
			}
			byAddr[e.addr] = len(out)
			out = append(out, e)
		}
	}
	return out
}

// backendsFor picks the backends of one virtual service, following
// kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go):
//
//   - Cluster: every ready endpoint, narrowed by topology hints (see
//     topologyMode) when they apply. If there is none, the endpoints that
//     are serving and terminating take new connections instead (KEP-1669,
//     ProxyTerminatingEndpoints, GA in Kubernetes 1.28), hints or not: a
//     rolling update whose old pods are all terminating keeps working until
//     the new ones are ready.
//   - Local: the same rule applied to this node's endpoints only, without
//     hints; remote endpoints are never used, even when there is no local
//     one.
//
// Endpoints on nodes the speakers hold dead are avoided like the ones hints
// leave out, as long as a ready endpoint on a live node is left: the node's
// link or speaker is gone, Kubernetes will not say so for tens of seconds,
// and until then half the new connections would go nowhere. With no ready
// endpoint on a live node, they are used as before (a speaker dead on a
// live node must not empty the Service).
//
// Endpoints that are serving and terminating but not chosen, ready
// endpoints that the hints leave out and ready endpoints avoided on dead
// nodes stay with Weight 0 (draining: their connections go on, no new
// ones). Endpoints that are not serving are left out; their connections
// are over as far as the datapath is concerned.
func backendsFor(eps []endpoint, localOnly bool, topo topology) map[netip.AddrPort]Backend {
	mode := topoNone
	if !localOnly {
		mode = topo.mode(eps)
	}
	scope := eps
	if localOnly {
		scope = nil
		for _, e := range eps {
			if e.local {
				scope = append(scope, e)
			}
		}
	}
	avoid := func(e endpoint) bool { return topo.dead[e.node] }
	if !slices.ContainsFunc(scope, func(e endpoint) bool { return e.Ready && !avoid(e) }) {
		avoid = func(endpoint) bool { return false }
	}
	chosen := func(e endpoint) bool { return e.Ready && topo.admits(mode, e) && !avoid(e) }
	anyReady := slices.ContainsFunc(scope, chosen)
	out := map[netip.AddrPort]Backend{}
	for _, e := range scope {
		b := Backend{Terminating: e.Terminating, Local: e.local}
		switch {
		case chosen(e):
			b.Weight = 1
		case e.Ready:
			b.Weight = 0 // another zone's (or node's), by the hints; or on a dead node
		case e.Serving && e.Terminating && !anyReady:
			b.Weight = 1 // the KEP-1669 fallback
		case e.Serving && e.Terminating:
			b.Weight = 0 // draining
		default:
			continue
		}
		out[e.addr] = b
	}
	return out
}
