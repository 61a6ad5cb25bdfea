package healthcheck

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/lbstate"
)

// Tracker keeps the ports Desired computes, one Service at a time: a
// change to a Service or its EndpointSlices recomputes that Service alone
// and hands back the ports it may have changed, as kube-proxy's change
// trackers do. Desired stays the rule from scratch; the property test
// holds the two equal. Not safe for concurrent use.
type Tracker struct {
	node   string
	claims map[types.NamespacedName]claim
	// byPort lists a port's claimants in namespace/name order: the first
	// serves it (Desired's rule for two Services on one port).
	byPort map[uint16][]types.NamespacedName
}

// claim is one Service's port and its count on this node.
type claim struct {
	port  uint16
	local int
}

// NewTracker returns an empty tracker for node.
func NewTracker(node string) *Tracker {
	return &Tracker{node: node, claims: map[types.NamespacedName]claim{}, byPort: map[uint16][]types.NamespacedName{}}
}

// Set records the Service name as it is now (svc nil: deleted) with its own
// EndpointSlices. It returns the ports whose Entry may have changed and the
// Service's problems: its own fields and endpoints, or its port taken by a
// Service earlier in namespace/name order.
func (t *Tracker) Set(name types.NamespacedName, svc *corev1.Service, own []*discoveryv1.EndpointSlice) (ports []uint16, problems []datapath.Problem) {
	if old, had := t.claims[name]; had {
		t.unclaim(name, old.port)
		delete(t.claims, name)
		ports = append(ports, old.port)
	}
	c, ok, bad := candidateOf(svc)
	if bad != nil {
		problems = append(problems, *bad)
	}
	if !ok {
		return ports, problems
	}
	n, epBad := c.localEndpoints(own, t.node)
	t.claims[name] = claim{port: c.port, local: n}
	claimants := t.byPort[c.port]
	i, _ := slices.BinarySearchFunc(claimants, name, lbstate.CompareKeys)
	t.byPort[c.port] = slices.Insert(claimants, i, name)
	if !slices.Contains(ports, c.port) {
		ports = append(ports, c.port)
	}
	if first := t.byPort[c.port][0]; first != name {
		problems = append(problems, datapath.Problem{Kind: "Service", Object: name, Field: "spec.healthCheckNodePort",
			Message: fmt.Sprintf("port %d is already the health check port of Service %s; not served for this Service", c.port, first)})
		return ports, problems
	}
	return ports, append(problems, epBad...)
}

// Entry is what port serves now, and false when it serves nothing.
func (t *Tracker) Entry(port uint16) (Entry, bool) {
	claimants := t.byPort[port]
	if len(claimants) == 0 {
		return Entry{}, false
	}
	return Entry{Service: claimants[0], LocalEndpoints: t.claims[claimants[0]].local}, true
}

func (t *Tracker) unclaim(name types.NamespacedName, port uint16) {
	claimants := t.byPort[port]
	if i, found := slices.BinarySearchFunc(claimants, name, lbstate.CompareKeys); found {
		claimants = slices.Delete(claimants, i, i+1)
	}
	if len(claimants) == 0 {
		delete(t.byPort, port)
		return
	}
	t.byPort[port] = claimants
}
