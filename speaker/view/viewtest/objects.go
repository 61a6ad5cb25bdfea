package viewtest

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/view"
)

// Objects is a cluster as objects, changed alongside a view, from which
// property tests compute plans from scratch.
type Objects struct {
	Services map[string]*corev1.Service // by name, in namespace ns
	Slices   map[string]*discoveryv1.EndpointSlice
	Nodes    map[string]*corev1.Node
}

// NewObjects returns an empty cluster.
func NewObjects() *Objects {
	return &Objects{Services: map[string]*corev1.Service{}, Slices: map[string]*discoveryv1.EndpointSlice{}, Nodes: map[string]*corev1.Node{}}
}

// Condensed is what lbstate.Build makes of the Services and slices.
func (o *Objects) Condensed() []lbstate.Service {
	var svcs []*corev1.Service
	for _, s := range o.Services {
		svcs = append(svcs, s)
	}
	var sls []*discoveryv1.EndpointSlice
	for _, s := range o.Slices {
		sls = append(sls, s)
	}
	return lbstate.Build(svcs, sls)
}

// Events says what random events to make.
type Events struct {
	Services int      // Services s0 .. sN-1, each with up to two slices
	Pools    []string // a Service's pool, drawn from these
	Addrs    []string // a Service's address, drawn from these
	Nodes    []string // the nodes that come, change and go
}

// RandomEvent applies one random event to o and v: a Service set or
// deleted, one of its EndpointSlices set (sometimes relabelled to another
// Service) or deleted, or a Node set, turned NotReady or Ready, or
// deleted.
func (o *Objects) RandomEvent(rng *rand.Rand, e Events, v *view.View) {
	svc := fmt.Sprintf("s%d", rng.IntN(e.Services))
	switch r := rng.IntN(20); {
	case r < 5:
		s := RandomService(rng, svc, e.Pools[rng.IntN(len(e.Pools))], e.Addrs)
		o.Services[svc] = s
		v.SetService(s)
	case r < 6:
		delete(o.Services, svc)
		v.DeleteService(types.NamespacedName{Namespace: "ns", Name: svc})
	case r < 11:
		name := fmt.Sprintf("%s-%d", svc, rng.IntN(2))
		if rng.IntN(10) == 0 { // a slice relabelled to another Service
			svc = fmt.Sprintf("s%d", rng.IntN(e.Services))
		}
		sl := RandomSlice(rng, svc, name, e.Nodes)
		o.Slices[name] = sl
		v.SetSlice(sl)
	case r < 12:
		name := fmt.Sprintf("%s-%d", svc, rng.IntN(2))
		delete(o.Slices, name)
		v.DeleteSlice(types.NamespacedName{Namespace: "ns", Name: name})
	case r < 16:
		n := RandomNode(rng, e.Nodes[rng.IntN(len(e.Nodes))])
		o.Nodes[n.Name] = n
		v.SetNode(n)
	case r < 19: // a node turns NotReady or Ready, and nothing else
		old, ok := o.Nodes[e.Nodes[rng.IntN(len(e.Nodes))]]
		if !ok {
			return
		}
		n := old.DeepCopy()
		for i, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				n.Status.Conditions[i].Status = map[corev1.ConditionStatus]corev1.ConditionStatus{
					corev1.ConditionTrue: corev1.ConditionFalse, corev1.ConditionFalse: corev1.ConditionTrue}[c.Status]
			}
		}
		o.Nodes[n.Name] = n
		v.SetNode(n)
	default:
		n := e.Nodes[rng.IntN(len(e.Nodes))]
		delete(o.Nodes, n)
		v.DeleteNode(n)
	}
}
