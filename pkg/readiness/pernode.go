package readiness

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// NodeCounts are counts of endpoints per node name, one entry per node
// with at least one, sorted by name. A sorted slice, not a map: the
// speaker keeps one per Service, and at 10,000 Services the maps of a few
// nodes each were 5 MB of its heap.
type NodeCounts []NodeCount

// NodeCount is one node's count ("" for endpoints without a node).
type NodeCount struct {
	Node string
	N    int
}

// CountsOf turns a map into NodeCounts, leaving out the nodes counted 0.
func CountsOf(m map[string]int) NodeCounts {
	var out NodeCounts
	for n, c := range m {
		if c > 0 {
			out = append(out, NodeCount{Node: n, N: c})
		}
	}
	slices.SortFunc(out, func(a, b NodeCount) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// Of is node's count.
func (c NodeCounts) Of(node string) int {
	if i, ok := slices.BinarySearchFunc(c, node, func(e NodeCount, n string) int { return strings.Compare(e.Node, n) }); ok {
		return c[i].N
	}
	return 0
}

// UsableByNode counts, per node name ("" for endpoints without one), the
// endpoints of a Service that take new connections: the ready ones or,
// when none is ready, the serving-and-terminating ones. Only endpoints
// whose slice carries one of ports count, so an endpoint the datapath would
// never forward to never makes a node attract traffic. An address listed in
// several slices counts once, as its best copy. slices are the Service's
// own (kubernetes.io/service-name); the result is nil when nothing is
// usable.
func UsableByNode(ports []corev1.ServicePort, slices []*discoveryv1.EndpointSlice) NodeCounts {
	best := map[netip.Addr]copyOf{}
	for _, sl := range slices {
		if sl == nil || !Carries(sl, ports) {
			continue
		}
		for _, ep := range sl.Endpoints {
			a, skip := Address(sl, ep)
			if skip != OK {
				continue
			}
			c := copyOf{node: NodeOf(ep), st: Of(ep.Conditions)}
			if prev, dup := best[a]; dup && !c.beats(prev) {
				continue
			}
			best[a] = c
		}
	}
	var ready, fallback []string
	for _, c := range best {
		switch {
		case c.st.Ready:
			ready = append(ready, c.node)
		case c.st.Fallback():
			fallback = append(fallback, c.node)
		}
	}
	if ready != nil {
		return countNames(ready)
	}
	return countNames(fallback)
}

// countNames counts each name of names (which it sorts); nil for none.
func countNames(names []string) NodeCounts {
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	n := 1
	for i := 1; i < len(names); i++ {
		if names[i] != names[i-1] {
			n++
		}
	}
	out := make(NodeCounts, 0, n)
	for _, name := range names {
		if k := len(out) - 1; k >= 0 && out[k].Node == name {
			out[k].N++
		} else {
			out = append(out, NodeCount{Node: name, N: 1})
		}
	}
	return out
}

// copyOf is one slice's copy of an endpoint.
type copyOf struct {
	node string
	st   State
}

// beats orders copies of one address independently of slice order: the
// higher rank wins, then the smaller node name.
func (c copyOf) beats(o copyOf) bool {
	if c.st.Rank() != o.st.Rank() {
		return c.st.Rank() > o.st.Rank()
	}
	return c.node < o.node
}
