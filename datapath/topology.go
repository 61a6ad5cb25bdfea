package datapath

import "slices"

// topology is where this node is, for topology hints.
type topology struct {
	node, zone string
	// dead: nodes held dead by the speakers, whose endpoints are avoided
	// (see backendsFor).
	dead map[string]bool
}

// topoMode is how hints narrow a virtual service's endpoints.
type topoMode int

const (
	topoNone     topoMode = iota // hints do not apply: every ready endpoint
	topoSameNode                 // hints.forNodes (trafficDistribution PreferSameNode)
	topoSameZone                 // hints.forZones (PreferSameZone / PreferClose, topology-mode Auto)
)

// mode decides, as kube-proxy's topologyModeFromHints
// (pkg/proxy/topology.go) does, whether hints apply: only if every ready
// endpoint carries hints of the kind, and one of them is for this node (or
// zone). Node hints win over zone hints. Otherwise hints are ignored: half
// hinted slices (the EndpointSlice controller is changing them) or hints
// for other zones only must not leave the node without endpoints.
func (t topology) mode(eps []endpoint) topoMode {
	allNode, allZone := true, true
	forNode, forZone := false, false
	for _, e := range eps {
		if !e.Ready {
			continue
		}
		if len(e.forNodes) == 0 {
			allNode = false
		} else if slices.Contains(e.forNodes, t.node) {
			forNode = true
		}
		if len(e.forZones) == 0 {
			allZone = false
		} else if t.zone != "" && slices.Contains(e.forZones, t.zone) {
			forZone = true
		}
	}
	switch {
	case allNode && forNode:
		return topoSameNode
	case allZone && forZone:
		return topoSameZone
	}
	return topoNone
}

// admits reports whether hints let new connections go to e.
func (t topology) admits(m topoMode, e endpoint) bool {
	switch m {
	case topoSameNode:
		return slices.Contains(e.forNodes, t.node)
	case topoSameZone:
		return slices.Contains(e.forZones, t.zone)
	}
	return true
}
