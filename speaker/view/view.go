// Package view is the speaker's one incrementally maintained view of
// Services, EndpointSlices and Nodes, shaped like kube-proxy's change
// trackers (pkg/proxy/servicechangetracker.go, endpointschangetracker.go):
// informer events update it object by object, it condenses each Service
// with its EndpointSlices through the one readiness rule (lbstate.Condense,
// pkg/readiness) and each Node to what announcing needs (l2plan.NodeFrom),
// and it hands every consumer the keys whose condensed value changed since
// that consumer last asked. A kubelet heartbeat or an EndpointSlice change
// that moves no usable endpoint changes nothing and wakes nobody.
package view

import (
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// View holds the condensed cluster. Safe for concurrent use.
type View struct {
	mu   sync.Mutex
	svcs map[types.NamespacedName]*corev1.Service
	// slices are each Service's EndpointSlices: a slice of them, not a
	// map by name, since a Service almost always has one or two (a map
	// per Service cost megabytes at 10,000 Services).
	slices    map[types.NamespacedName][]*discoveryv1.EndpointSlice
	sliceSvc  map[types.NamespacedName]types.NamespacedName // slice -> the Service it is filed under
	condensed map[types.NamespacedName]lbstate.Service
	nodes     map[string]l2plan.Node
	consumers []*Consumer
	synced    []func() bool
}

// Consumer is one user of the view with its own pending changes.
type Consumer struct {
	notify   func()
	services map[types.NamespacedName]bool
	nodes    map[string]bool
}

// Changes are the keys whose condensed value changed, with the values now
// (absent from the maps: gone).
type Changes struct {
	Services map[types.NamespacedName]*lbstate.Service // nil: no longer one of IronLB's
	Nodes    map[string]*l2plan.Node                   // nil: deleted
}

// New returns an empty view.
func New() *View {
	return &View{
		svcs: map[types.NamespacedName]*corev1.Service{}, slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		sliceSvc: map[types.NamespacedName]types.NamespacedName{}, condensed: map[types.NamespacedName]lbstate.Service{},
		nodes: map[string]l2plan.Node{},
	}
}

// Consumer registers a consumer; notify (which must not block) is called
// after every change that gives it something to read. Its first Changes
// holds everything already in the view.
func (v *View) Consumer(notify func()) *Consumer {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := &Consumer{notify: notify, services: map[types.NamespacedName]bool{}, nodes: map[string]bool{}}
	for k := range v.condensed {
		c.services[k] = true
	}
	for n := range v.nodes {
		c.nodes[n] = true
	}
	v.consumers = append(v.consumers, c)
	return c
}

// Changes checks out c's pending changes.
func (v *View) Changes(c *Consumer) Changes {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := Changes{Services: make(map[types.NamespacedName]*lbstate.Service, len(c.services)), Nodes: make(map[string]*l2plan.Node, len(c.nodes))}
	for k := range c.services {
		if s, ok := v.condensed[k]; ok {
			out.Services[k] = &s
		} else {
			out.Services[k] = nil
		}
	}
	for n := range c.nodes {
		if nd, ok := v.nodes[n]; ok {
			out.Nodes[n] = &nd
		} else {
			out.Nodes[n] = nil
		}
	}
	// Fresh maps, not cleared ones: a map keeps the room it grew to (the
	// first Changes holds everything), and ranging over it costs that room.
	c.services = map[types.NamespacedName]bool{}
	c.nodes = map[string]bool{}
	return out
}

// Synced reports whether every informer feeding the view has delivered
// its initial list (true when none is registered).
func (v *View) Synced() bool {
	v.mu.Lock()
	fs := v.synced
	v.mu.Unlock()
	for _, f := range fs {
		if !f() {
			return false
		}
	}
	return true
}

// SetService records a Service's new state.
func (v *View) SetService(svc *corev1.Service) {
	k := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.svcs[k] = svc
	v.recondense(k)
}

// DeleteService forgets a Service.
func (v *View) DeleteService(k types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.svcs, k)
	v.recondense(k)
}

// SetSlice records an EndpointSlice's new state.
func (v *View) SetSlice(sl *discoveryv1.EndpointSlice) {
	v.mu.Lock()
	defer v.mu.Unlock()
	sk := types.NamespacedName{Namespace: sl.Namespace, Name: sl.Name}
	name := sl.Labels[discoveryv1.LabelServiceName]
	k := types.NamespacedName{Namespace: sl.Namespace, Name: name}
	if prev, ok := v.sliceSvc[sk]; ok && (name == "" || prev != k) {
		v.unfile(sk) // relabelled: it leaves its former Service
	}
	if name == "" {
		return // belongs to no Service
	}
	if i := v.sliceAt(k, sl.Name); i >= 0 {
		v.slices[k][i] = sl
	} else {
		v.slices[k] = append(v.slices[k], sl)
	}
	v.sliceSvc[sk] = k
	v.recondense(k)
}

// DeleteSlice forgets an EndpointSlice.
func (v *View) DeleteSlice(sk types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.unfile(sk)
}

// unfile removes a slice from the Service it was filed under.
func (v *View) unfile(sk types.NamespacedName) {
	k, ok := v.sliceSvc[sk]
	if !ok {
		return
	}
	delete(v.sliceSvc, sk)
	if i := v.sliceAt(k, sk.Name); i >= 0 {
		v.slices[k] = slices.Delete(v.slices[k], i, i+1)
	}
	if len(v.slices[k]) == 0 {
		delete(v.slices, k)
	}
	v.recondense(k)
}

// sliceAt is the index of the slice named name among k's; -1 if none.
func (v *View) sliceAt(k types.NamespacedName, name string) int {
	return slices.IndexFunc(v.slices[k], func(sl *discoveryv1.EndpointSlice) bool { return sl.Name == name })
}

// recondense condenses one Service again and tells the consumers when the
// result changed.
func (v *View) recondense(k types.NamespacedName) {
	old, had := v.condensed[k]
	var now lbstate.Service
	has := false
	if svc := v.svcs[k]; svc != nil {
		now, has = lbstate.Condense(svc, v.slices[k])
	}
	switch {
	case !had && !has, had && has && old.Equal(now):
		return
	case has:
		v.condensed[k] = now
	default:
		delete(v.condensed, k)
	}
	for _, c := range v.consumers {
		c.services[k] = true
		c.notify()
	}
}

// SetNode records a Node's new state.
func (v *View) SetNode(n *corev1.Node) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := l2plan.NodeFrom(n)
	if old, ok := v.nodes[n.Name]; ok && old.Equal(now) {
		return
	}
	v.nodes[n.Name] = now
	v.nodeChanged(n.Name)
}

// DeleteNode forgets a Node.
func (v *View) DeleteNode(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.nodes[name]; !ok {
		return
	}
	delete(v.nodes, name)
	v.nodeChanged(name)
}

func (v *View) nodeChanged(name string) {
	for _, c := range v.consumers {
		c.nodes[name] = true
		c.notify()
	}
}
