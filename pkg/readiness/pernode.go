package readiness

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// UsableByNode counts, per node name ("" for endpoints without one), the
// endpoints of a Service that take new connections: the ready ones or,
// when none is ready, the serving-and-terminating ones. Only endpoints
// whose slice carries one of ports count, so an endpoint the datapath would
// never forward to never makes a node attract traffic. An address listed in
// several slices counts once, as its best copy. slices are the Service's
// own (kubernetes.io/service-name); the result is nil when nothing is
// usable.
func UsableByNode(ports []corev1.ServicePort, slices []*discoveryv1.EndpointSlice) map[string]int {
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
	var ready, fallback map[string]int
	for _, c := range best {
		switch {
		case c.st.Ready:
			if ready == nil {
				ready = map[string]int{}
			}
			ready[c.node]++
		case c.st.Fallback():
			if fallback == nil {
				fallback = map[string]int{}
			}
			fallback[c.node]++
		}
	}
	if ready != nil {
		return ready
	}
	return fallback
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
