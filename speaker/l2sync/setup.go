package l2sync

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// +kubebuilder:rbac:groups="",resources=services;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the syncer. Besides Services, EndpointSlices
// and Nodes (through the view when one is set), the trigger (membership and
// configuration changes, conflicts) wakes it.
func (s *Syncer) SetupWithManager(mgr ctrl.Manager, t *trigger.Trigger) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{Key}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("layer2").WatchesRawSource(t.Source())
	if s.View != nil {
		// The view wakes the syncer only when a condensed Service or Node
		// changed.
		s.consumer = s.View.Consumer(func() { t.Add(Key) })
	} else {
		b = b.Watches(&corev1.Service{}, toKey).
			Watches(&discoveryv1.EndpointSlice{}, toKey).
			Watches(&corev1.Node{}, toKey, builder.WithPredicates(nodeRelevant))
	}
	if err := b.Complete(s); err != nil {
		return err
	}
	s.statusQueue = &trigger.Trigger{}
	statuses, err := registerStatusStore(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	s.statuses = statuses
	// A status someone else rewrote (the controller while no speaker
	// seemed to run, a user) or deleted is written back as this node sees
	// it: its IP is compared again (this node's own writes come back here
	// too, and compare equal).
	toStatusKey := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		s.statusObjectChanged(o)
		return []reconcile.Request{statusKey}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("layer2-status").
		WatchesRawSource(s.statusQueue.Source()).
		Watches(&v1beta1.ServiceL2Status{}, toStatusKey).
		Complete(statusReconciler{s})
}

// nodeRelevant drops Node updates that cannot change the plan: kubelets
// rewrite their Node status every few seconds (heartbeat times, images,
// resources), and each of those would otherwise recompute every speaker's
// plan.
var nodeRelevant = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		a, aok := e.ObjectOld.(*corev1.Node)
		b, bok := e.ObjectNew.(*corev1.Node)
		if !aok || !bok {
			return true
		}
		return !maps.Equal(a.Labels, b.Labels) || !maps.Equal(a.Annotations, b.Annotations) ||
			!slices.Equal(conditions(a), conditions(b)) || !slices.Equal(a.Status.Addresses, b.Status.Addresses)
	},
}

func conditions(n *corev1.Node) []string {
	var out []string
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady || c.Type == corev1.NodeNetworkUnavailable {
			out = append(out, string(c.Type)+"="+string(c.Status))
		}
	}
	return out
}

// statusObjectChanged marks the IP of a status object for the next status
// pass: the IP its status names and the one its name was made for; an
// object naming no IP has the next pass compare every status.
func (s *Syncer) statusObjectChanged(o client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statusDirty == nil {
		s.statusDirty = map[netip.Addr]bool{}
	}
	if ip, ok := ipOfName(o.GetName()); ok {
		s.statusDirty[ip] = true
	}
	st, ok := o.(*v1beta1.ServiceL2Status)
	if !ok {
		s.statusFull = true
		return
	}
	ip, err := netip.ParseAddr(st.Status.IP)
	if err != nil {
		s.statusFull = true
		return
	}
	s.statusDirty[ip] = true
}

// ipOfName is the IP a status name was made for by StatusName (a
// Service's name has no dot).
func ipOfName(name string) (netip.Addr, bool) {
	_, rest, ok := strings.Cut(name, ".")
	if !ok {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(rest, "-", ":"))
	return ip, err == nil
}
