// Package dpsync keeps this node's datapath (IPVS or nftables) in line with
// the Services IronLB gave addresses to and their EndpointSlices: it
// computes the desired state with the pure datapath.Desired and hands it to
// the backend, which applies only the difference.
package dpsync

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// ReasonDatapathProblem is the event reason for a Service the datapath
// cannot carry as asked (bad scheduler annotation, conflicting ports, ...).
const ReasonDatapathProblem = "DatapathProblem"

// Backend applies a desired datapath state.
type Backend interface {
	Apply(ctx context.Context, want datapath.State) error
}

var key = reconcile.Request{NamespacedName: client.ObjectKey{Name: "datapath"}}

// Syncer is the datapath reconciler of one speaker.
type Syncer struct {
	Client   client.Client
	Recorder record.EventRecorder
	Log      logr.Logger
	Node     string
	Backend  Backend

	mu       sync.Mutex
	reported map[string]bool // problems already sent as events
}

// SetupWithManager registers the syncer on Services and EndpointSlices.
func (s *Syncer) SetupWithManager(mgr ctrl.Manager) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{key}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("datapath").
		Watches(&corev1.Service{}, toKey).
		Watches(&discoveryv1.EndpointSlice{}, toKey).
		Complete(s)
}

// Reconcile applies the desired state.
func (s *Syncer) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var svcs corev1.ServiceList
	var eps discoveryv1.EndpointSliceList
	if err := s.Client.List(ctx, &svcs); err != nil {
		return reconcile.Result{}, fmt.Errorf("list services: %w", err)
	}
	if err := s.Client.List(ctx, &eps); err != nil {
		return reconcile.Result{}, fmt.Errorf("list endpointslices: %w", err)
	}
	in := datapath.Inputs{Node: s.Node}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if _, ours := svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool]; ours && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			in.Services = append(in.Services, svc)
		}
	}
	for i := range eps.Items {
		in.EndpointSlices = append(in.EndpointSlices, &eps.Items[i])
	}
	want := datapath.Desired(in)
	s.report(want.Problems)
	if err := s.Backend.Apply(ctx, want); err != nil {
		return reconcile.Result{}, fmt.Errorf("apply datapath: %w", err)
	}
	return reconcile.Result{}, nil
}

// report sends each new problem once, as an event on its Service.
func (s *Syncer) report(problems []datapath.Problem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reported == nil {
		s.reported = map[string]bool{}
	}
	seen := map[string]bool{}
	for _, p := range problems {
		text := p.String()
		seen[text] = true
		if s.reported[text] {
			continue
		}
		s.reported[text] = true
		s.Log.Info("datapath problem", "problem", text)
		if p.Kind == "Service" {
			ref := &corev1.Service{}
			ref.Namespace, ref.Name = p.Object.Namespace, p.Object.Name
			ref.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
			s.Recorder.Event(ref, corev1.EventTypeWarning, ReasonDatapathProblem, p.Field+": "+p.Message)
		}
	}
	for text := range s.reported {
		if !seen[text] {
			delete(s.reported, text) // fixed: report again if it returns
		}
	}
}
