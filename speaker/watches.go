package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/configsource"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/bgpsync"
	"github.com/ironlb/ironlb/speaker/l2sync"
	"github.com/ironlb/ironlb/speaker/members"
)

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch

var singleKey = reconcile.Request{NamespacedName: client.ObjectKey{Name: "all"}}

func toSingleKey(context.Context, client.Object) []reconcile.Request {
	return []reconcile.Request{singleKey}
}

// configWatch compiles the ironlb.io objects on every change. Invalid
// objects set aside only themselves, and an object whose spec turned
// invalid keeps its last valid spec (recorded in its status by the
// controller), so a speaker that starts with a bad object present runs what
// every other speaker runs. The controller reports the problems on the
// objects; the speaker only logs them.
type configWatch struct {
	client  client.Client
	log     logr.Logger
	store   *atomic.Pointer[config.Config]
	changed []*trigger.Trigger // woken with their controller's key
	lastErr string
}

func (w *configWatch) setup(mgr ctrl.Manager) error {
	// Compile once at the start too: with no objects at all, no watch
	// event ever comes, yet an empty configuration is one (the speaker
	// applies it, and is ready).
	start := &trigger.Trigger{}
	start.Add(singleKey)
	b := ctrl.NewControllerManagedBy(mgr).Named("speaker-config").WatchesRawSource(start.Source())
	for _, o := range configsource.Objects() {
		b = b.Watches(o, handler.EnqueueRequestsFromMapFunc(toSingleKey))
	}
	if err := b.Complete(w); err != nil {
		return fmt.Errorf("set up configuration watch: %w", err)
	}
	return nil
}

func (w *configWatch) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	res, err := configsource.List(ctx, w.client)
	if err != nil {
		return reconcile.Result{}, err
	}
	cfg, errs := config.Compile(res)
	if text := errs.Error(); len(errs) > 0 && text != w.lastErr {
		w.log.Info("invalid configuration objects are set aside", "errors", text)
		w.lastErr = text
	} else if len(errs) == 0 {
		w.lastErr = ""
	}
	w.store.Store(cfg)
	for _, t := range w.changed {
		t.Add(l2sync.Key, bgpsync.Key)
	}
	return reconcile.Result{}, nil
}

// peerWatch tells the liveness layer where the other speakers are: every
// Node's InternalIP of the speaker's address family.
type peerWatch struct {
	client  client.Client
	members *members.Members
	port    uint16
	family4 bool
}

func (w *peerWatch) setup(mgr ctrl.Manager) error {
	err := ctrl.NewControllerManagedBy(mgr).Named("speaker-peers").
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(toSingleKey), builder.WithPredicates(addressesChanged)).
		Complete(w)
	if err != nil {
		return fmt.Errorf("set up peer watch: %w", err)
	}
	return nil
}

// addressesChanged passes Node updates that change its addresses, the only
// field the peer list reads: kubelets rewrite their Node status every few
// seconds, and each of those would otherwise list every Node on every node.
var addressesChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		a, aok := e.ObjectOld.(*corev1.Node)
		b, bok := e.ObjectNew.(*corev1.Node)
		return !aok || !bok || !slices.Equal(a.Status.Addresses, b.Status.Addresses)
	},
}

func (w *peerWatch) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var nodes corev1.NodeList
	if err := w.client.List(ctx, &nodes); err != nil {
		return reconcile.Result{}, err
	}
	peers := map[string]netip.AddrPort{}
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			ip, err := netip.ParseAddr(a.Address)
			if a.Type != corev1.NodeInternalIP || err != nil || ip.Is4() != w.family4 {
				continue
			}
			peers[n.Name] = netip.AddrPortFrom(ip, w.port)
			break
		}
	}
	return reconcile.Result{}, w.members.SetPeers(peers)
}
