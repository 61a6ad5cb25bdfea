// Package cachetrim holds the speaker's cache transforms: each Service,
// EndpointSlice and Node is cut, as it enters the informer's store, down
// to the fields some reader of the speaker uses (speaker/view through
// pkg/lbstate and pkg/readiness, l2plan.NodeFrom, dpsync and the datapath,
// the health check ports, the peer list, sliceindex). At 10,000 Services
// the full objects (managed fields, the pods behind every endpoint, the
// annotations of other tools) were most of the speaker's memory. What
// many objects repeat (the annotations of Services of one pool, the name
// of the node of many endpoints) is kept once and shared.
//
// A transform runs once per object the API server sends and must be
// idempotent. The trimmed objects are never written back: the speaker
// updates only its own status kinds, whose transform (StripManagedFields)
// keeps everything an update sends (the API server keeps the managed
// fields of an update that carries none).
package cachetrim

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/datapath"
)

// ByObject are the per-kind transforms, for cache.Options.ByObject.
func ByObject() map[client.Object]cache.ByObject {
	return map[client.Object]cache.ByObject{
		&corev1.Service{}:            {Transform: NewServices().Transform},
		&discoveryv1.EndpointSlice{}: {Transform: NewSlices().Transform},
		&corev1.Node{}:               {Transform: Node},
	}
}

// StripManagedFields is the transform of every other kind
// (cache.Options.DefaultTransform): no reader looks at managed fields.
func StripManagedFields() toolscache.TransformFunc { return cache.TransformStripManagedFields() }

// ownPrefix is where IronLB's own annotations live.
const ownPrefix = "ironlb.io/"

// shared hands out one value per key: the first one it was given. Safe
// for concurrent use; the zero value is empty.
type shared[V any] struct {
	mu    sync.Mutex
	byKey map[string]V
}

// maxShared bounds the keys a shared keeps: past it, it starts afresh
// (what it handed out stays valid), so values come and gone over a
// cluster's life do not pile up.
const maxShared = 10000

// of is the value shared under key, v when key is new.
func (t *shared[V]) of(key string, v V) V {
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev, ok := t.byKey[key]; ok {
		return prev
	}
	if t.byKey == nil || len(t.byKey) >= maxShared {
		t.byKey = map[string]V{}
	}
	t.byKey[key] = v
	return v
}

// Services trims Services. Services whose kept annotations are the same
// (most carry only the pool they were given) share one map of them: a map
// per Service was some 3 MB at 10,000 Services. Safe for concurrent use.
type Services struct {
	annotations shared[map[string]string] // by annotationsKey
}

// NewServices returns a Services that has seen none.
func NewServices() *Services { return &Services{} }

// Transform keeps a Service's spec and status (the datapath reads most of
// the spec) and its metadata except the managed fields, the annotations
// no reader of the speaker looks at (it reads IronLB's own and the source
// ranges; the request annotations are the controller's) and
// spec.selector (the speaker sees endpoints through EndpointSlices). The
// annotations kept are shared (never write to them: nothing in the
// speaker writes to a cached object).
func (s *Services) Transform(obj any) (any, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	svc.ManagedFields = nil
	svc.Annotations = keepAnnotations(svc.Annotations, datapath.AnnotationSourceRanges)
	if svc.Annotations != nil {
		svc.Annotations = s.annotations.of(annotationsKey(svc.Annotations), svc.Annotations)
	}
	svc.Spec.Selector = nil
	svc.Status.Conditions = nil
	return svc, nil
}

// annotationsKey is m's content as one string: its keys, sorted, each
// with its value (quoted, so no two contents give one key).
func annotationsKey(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(strconv.Quote(k))
		b.WriteString(strconv.Quote(m[k]))
	}
	return b.String()
}

// Slices trims EndpointSlices. It hands every endpoint on one node the
// same node name: the decoder allocates a name (and a pointer to it) per
// endpoint, which at 10,000 Services of 10 endpoints was some 3 MB of
// copies of a hundred names. Topology hints, which repeat the same few
// zones (and nodes) over every endpoint of a cluster that uses them, are
// shared the same way: some 80 bytes per endpoint. Safe for concurrent
// use.
type Slices struct {
	nodes shared[*string]                    // by name
	hints shared[*discoveryv1.EndpointHints] // by hintsKey
}

// NewSlices returns a Slices that has seen no node.
func NewSlices() *Slices { return &Slices{} }

// Transform keeps a slice's address type, ports, and per endpoint the
// addresses, conditions, node and topology hints (pkg/readiness and the
// datapath); of its metadata, the identity and the Service it belongs to
// (the kubernetes.io/service-name label). Gone: the pod behind each
// endpoint (targetRef), hostnames, zones, owner references, annotations
// and the labels copied from the Service, and the decoder's spare room
// in the endpoints' array. The node names are shared (never write through
// them: nothing in the speaker writes to a cached object), and so are the
// hints.
func (s *Slices) Transform(obj any) (any, error) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	sl.ManagedFields = nil
	sl.Annotations = nil
	sl.OwnerReferences = nil
	if name, ok := sl.Labels[discoveryv1.LabelServiceName]; ok {
		if len(sl.Labels) > 1 {
			sl.Labels = map[string]string{discoveryv1.LabelServiceName: name}
		}
	} else {
		sl.Labels = nil
	}
	for i := range sl.Endpoints {
		ep := &sl.Endpoints[i]
		ep.TargetRef, ep.Hostname, ep.Zone, ep.DeprecatedTopology = nil, nil, nil, nil
		if ep.NodeName != nil {
			ep.NodeName = s.nodes.of(*ep.NodeName, ep.NodeName)
		}
		if ep.Hints != nil {
			ep.Hints = s.hints.of(hintsKey(ep.Hints), ep.Hints)
		}
	}
	// The decoder appends the endpoints one by one and leaves an array with
	// room for up to twice as many (16 for 10, at 96 bytes each); one of
	// the length they need saves a third of it.
	if len(sl.Endpoints) > 0 && cap(sl.Endpoints) > len(sl.Endpoints) {
		sl.Endpoints = slices.Clone(sl.Endpoints)
	}
	for i := range sl.Ports {
		sl.Ports[i].AppProtocol = nil
	}
	return sl, nil
}

// hintsKey is h's content as one string: its zones, then its nodes, each
// name quoted (so no two contents give one key).
func hintsKey(h *discoveryv1.EndpointHints) string {
	var b strings.Builder
	for _, z := range h.ForZones {
		b.WriteString(strconv.Quote(z.Name))
	}
	b.WriteByte('|')
	for _, n := range h.ForNodes {
		b.WriteString(strconv.Quote(n.Name))
	}
	return b.String()
}

// Node keeps a Node's identity, labels, IronLB's annotations (the layer 2
// weight), spec.unschedulable, its addresses and its Ready and
// NetworkUnavailable conditions (type, status, reason; the heartbeat
// times change every few seconds and nobody reads them). Gone: the images,
// capacity, node info and the other conditions a kubelet reports.
func Node(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	n.ManagedFields = nil
	n.OwnerReferences = nil
	n.Annotations = keepAnnotations(n.Annotations)
	n.Spec = corev1.NodeSpec{Unschedulable: n.Spec.Unschedulable}
	var conds []corev1.NodeCondition
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady || c.Type == corev1.NodeNetworkUnavailable {
			conds = append(conds, corev1.NodeCondition{Type: c.Type, Status: c.Status, Reason: c.Reason})
		}
	}
	n.Status = corev1.NodeStatus{Addresses: n.Status.Addresses, Conditions: conds}
	return n, nil
}

// keepAnnotations keeps IronLB's own annotations and the named others; nil
// when none is left.
func keepAnnotations(in map[string]string, others ...string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if !strings.HasPrefix(k, ownPrefix) && !slices.Contains(others, k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}
