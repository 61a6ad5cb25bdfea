// Package dpsync keeps this node's datapath (IPVS or nftables) in line with
// the Services IronLB gave addresses to and their EndpointSlices: it
// computes the desired state with the pure datapath.Desired, one Service's
// VIPs at a time, and hands the backend the services that may differ.
package dpsync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/sliceindex"
)

// ReasonDatapathProblem is the event reason for a Service the datapath
// cannot carry as asked (bad scheduler annotation, conflicting ports, ...).
const ReasonDatapathProblem = "DatapathProblem"

// Backend applies a desired datapath state.
type Backend interface {
	// Apply makes the datapath match want (at start: a full sync).
	Apply(ctx context.Context, want datapath.State) error
	// Update is Apply when only the touched services may have changed
	// since the last call.
	Update(ctx context.Context, want datapath.State, touched []datapath.ServiceKey) error
}

// Syncer is the datapath reconciler of one speaker. Its reconcile key is a
// Service (EndpointSlices map to theirs): the first reconcile computes the
// whole State and hands it to the backend; every later one recomputes only
// the VIPs of the Service it is about (see desired) and hands the backend
// the services that may have changed.
type Syncer struct {
	Client   client.Client
	Recorder record.EventRecorder
	Log      logr.Logger
	Node     string
	Backend  Backend
	// DeadNodes returns the nodes the speakers' liveness protocol holds
	// dead (nil: none); Wake signals that it may have changed.
	DeadNodes func() map[string]bool
	Wake      *trigger.Trigger
	// Slices finds a Service's EndpointSlices in the cache Client reads.
	Slices *sliceindex.Index

	mu      sync.Mutex
	desired *desired // nil until the first full sync succeeded
	// problems already sent as events: text -> how many reconcile keys
	// currently report it; byKey: the texts each key reported last.
	reported map[string]int
	byKey    map[types.NamespacedName][]string
}

// SetupWithManager registers the syncer on Services and EndpointSlices.
func (s *Syncer) SetupWithManager(mgr ctrl.Manager) error {
	// This node's zone label decides which topology hints apply; a change
	// of it (rare) recomputes everything. Other nodes do not matter.
	ownNode := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if o.GetName() != s.Node {
			return nil
		}
		return []reconcile.Request{{NamespacedName: nodeKey}}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("datapath")
	if s.Wake != nil {
		b = b.WatchesRawSource(s.Wake.Source())
	}
	return b.
		For(&corev1.Service{}).
		Watches(&discoveryv1.EndpointSlice{}, sliceindex.ToService).
		Watches(&corev1.Node{}, ownNode).
		Complete(s)
}

// nodeKey is the reconcile key of this node's Node object: no Service has
// an empty namespace and name.
var nodeKey = types.NamespacedName{}

// DeadNodesKey is the reconcile key of a change of the dead nodes (Wake):
// no Service has an empty namespace.
var DeadNodesKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "dead-nodes"}}

// dead returns the nodes held dead now.
func (s *Syncer) dead() map[string]bool {
	if s.DeadNodes == nil {
		return nil
	}
	return s.DeadNodes()
}

// zone reads this node's topology.kubernetes.io/zone label ("" when the
// Node or the label is missing: topology hints by zone then do not apply).
func (s *Syncer) zone(ctx context.Context) (string, error) {
	var n corev1.Node
	if err := s.Client.Get(ctx, types.NamespacedName{Name: s.Node}, &n); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("get Node %s: %w", s.Node, err)
	}
	return n.Labels[corev1.LabelTopologyZone], nil
}

// Reconcile brings the datapath in line after a change of one Service or
// its EndpointSlices.
func (s *Syncer) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.desired == nil {
		return reconcile.Result{}, s.fullSync(ctx)
	}
	if req.NamespacedName == DeadNodesKey.NamespacedName {
		dead := s.dead()
		if maps.Equal(dead, s.desired.dead) {
			return reconcile.Result{}, nil
		}
		// Every Service with endpoints on a node that died or came back
		// may change: recompute all, and hand the backend only what
		// differs (its Apply diffs), so the kernel sees a small change.
		s.Log.Info("nodes held dead changed; recomputing the datapath", "dead", slices.Sorted(maps.Keys(dead)))
		return reconcile.Result{}, s.fullSync(ctx)
	}
	if req.NamespacedName == nodeKey {
		zone, err := s.zone(ctx)
		if err != nil || zone == s.desired.zone {
			return reconcile.Result{}, err
		}
		s.Log.Info("node zone changed; recomputing the datapath", "from", s.desired.zone, "to", zone)
		return reconcile.Result{}, s.fullSync(ctx)
	}
	svc, err := s.served(ctx, req.NamespacedName)
	if err != nil {
		return reconcile.Result{}, err
	}
	vips, others := s.desired.group(req.NamespacedName, svc)
	in, err := s.inputs(ctx, req.NamespacedName, others)
	if err != nil {
		return reconcile.Result{}, err
	}
	touched, problems := s.desired.update(req.NamespacedName, svc, vips, in)
	s.report(ctx, req.NamespacedName, problems)
	if len(touched) == 0 {
		return reconcile.Result{}, nil
	}
	if err := s.Backend.Update(ctx, s.desired.state, touched); err != nil {
		return reconcile.Result{}, fmt.Errorf("update datapath for Service %s: %w", req.NamespacedName, err)
	}
	return reconcile.Result{}, nil
}

// fullSync computes the whole State from every Service and EndpointSlice.
func (s *Syncer) fullSync(ctx context.Context) error {
	var svcs corev1.ServiceList
	var eps discoveryv1.EndpointSliceList
	if err := s.Client.List(ctx, &svcs); err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	if err := s.Client.List(ctx, &eps); err != nil {
		return fmt.Errorf("list endpointslices: %w", err)
	}
	var in []*corev1.Service
	for i := range svcs.Items {
		if served(&svcs.Items[i]) {
			in = append(in, &svcs.Items[i])
		}
	}
	slices := make([]*discoveryv1.EndpointSlice, len(eps.Items))
	for i := range eps.Items {
		slices[i] = &eps.Items[i]
	}
	zone, err := s.zone(ctx)
	if err != nil {
		return err
	}
	d := newDesired(s.Node, zone, s.dead(), in, slices)
	s.report(ctx, types.NamespacedName{}, d.state.Problems)
	if err := s.Backend.Apply(ctx, d.state); err != nil {
		return fmt.Errorf("apply datapath: %w", err)
	}
	s.desired = d
	return nil
}

// served fetches a Service; nil if it is gone or not one IronLB serves.
func (s *Syncer) served(ctx context.Context, name types.NamespacedName) (*corev1.Service, error) {
	var svc corev1.Service
	if err := s.Client.Get(ctx, name, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get Service %s: %w", name, err)
	}
	if !served(&svc) {
		return nil, nil
	}
	return &svc, nil
}

func served(svc *corev1.Service) bool {
	_, ours := svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool]
	return ours && svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// inputs fetches the other Services of a group and the EndpointSlices of
// all of them.
func (s *Syncer) inputs(ctx context.Context, name types.NamespacedName, others []types.NamespacedName) (datapath.Inputs, error) {
	var in datapath.Inputs
	for _, o := range others {
		svc, err := s.served(ctx, o)
		if err != nil {
			return in, err
		}
		if svc != nil {
			in.Services = append(in.Services, svc)
		}
	}
	for _, n := range append([]types.NamespacedName{name}, others...) {
		eps, err := s.Slices.List(n)
		if err != nil {
			return in, err
		}
		in.EndpointSlices = append(in.EndpointSlices, eps...)
	}
	return in, nil
}

// report sends each problem once, as an event on its Service, while some
// reconcile key reports it; key's earlier problems are replaced.
func (s *Syncer) report(ctx context.Context, key types.NamespacedName, problems []datapath.Problem) {
	if s.reported == nil {
		s.reported = map[string]int{}
		s.byKey = map[types.NamespacedName][]string{}
	}
	var texts []string
	for _, p := range problems {
		text := p.String()
		texts = append(texts, text)
		if s.reported[text] == 0 {
			s.event(ctx, p, text)
		}
		s.reported[text]++
	}
	for _, text := range s.byKey[key] {
		if s.reported[text]--; s.reported[text] <= 0 {
			delete(s.reported, text) // fixed: report again if it returns
		}
	}
	if len(texts) == 0 {
		delete(s.byKey, key)
	} else {
		s.byKey[key] = texts
	}
}

func (s *Syncer) event(ctx context.Context, p datapath.Problem, text string) {
	s.Log.Info("datapath problem", "problem", text)
	if p.Kind != "Service" {
		return
	}
	// The event must carry the Service's UID: kubectl describe and other
	// tools select a Service's events by it. The cache has the Service
	// (the problem was found reading it); a name-only reference is the
	// fallback when it was deleted meanwhile.
	ref := &corev1.Service{}
	if err := s.Client.Get(ctx, p.Object, ref); err != nil {
		ref.Namespace, ref.Name = p.Object.Namespace, p.Object.Name
	}
	ref.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
	s.Recorder.Event(ref, corev1.EventTypeWarning, ReasonDatapathProblem, p.Field+": "+p.Message)
}
