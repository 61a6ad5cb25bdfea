package main

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
		b = b.Watches(o, handler.EnqueueRequestsFromMapFunc(toSingleKey), builder.WithPredicates(configsource.ConfigChanged))
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
	if w.store.Load().Equal(cfg) {
		// A status write on an object (the controller's report of it)
		// compiles to what is in force. A new configuration makes the
		// layer 2 and BGP passes decide every IP again: only a change
		// may cost that.
		return reconcile.Result{}, nil
	}
	w.store.Store(cfg)
	for _, t := range w.changed {
		t.Add(l2sync.Key, bgpsync.Key)
	}
	return reconcile.Result{}, nil
}

// peerWatch tells the liveness layer where the other speakers are: every
// Node's InternalIP of the speaker's address family. It reads only the
// Nodes whose addresses changed (or that came or went) since its last
// pass, from the cache, instead of listing every Node: a rolling reboot
// of a large cluster would otherwise copy every Node out of the cache on
// every node, once per Node.
type peerWatch struct {
	client  client.Client
	members peerSetter
	port    uint16
	family4 bool

	mu      sync.Mutex
	pending map[string]bool // Nodes changed since the last pass

	// Reconcile's alone:
	peers  map[string]netip.AddrPort
	unsent bool // peers differs from what the liveness layer last took
}

// peerSetter is the part of members.Members the watch drives.
type peerSetter interface {
	SetPeers(map[string]netip.AddrPort) error
}

func (w *peerWatch) setup(mgr ctrl.Manager) error {
	err := ctrl.NewControllerManagedBy(mgr).Named("speaker-peers").
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(w.changed), builder.WithPredicates(addressesChanged)).
		Complete(w)
	if err != nil {
		return fmt.Errorf("set up peer watch: %w", err)
	}
	return nil
}

// changed notes a Node for the next pass. The one key keeps passes
// batched: the Nodes the informer delivers before the first pass are read
// in one, which hands the liveness layer the whole cluster at once.
func (w *peerWatch) changed(_ context.Context, o client.Object) []reconcile.Request {
	w.note([]string{o.GetName()})
	return []reconcile.Request{singleKey}
}

func (w *peerWatch) note(names []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[string]bool{}
	}
	for _, n := range names {
		w.pending[n] = true
	}
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
	w.mu.Lock()
	names := slices.Sorted(maps.Keys(w.pending))
	w.pending = nil
	w.mu.Unlock()
	if w.peers == nil {
		w.peers, w.unsent = map[string]netip.AddrPort{}, true
	}
	for i, name := range names {
		var n corev1.Node
		err := w.client.Get(ctx, client.ObjectKey{Name: name}, &n)
		switch {
		case apierrors.IsNotFound(err):
			if _, ok := w.peers[name]; ok {
				delete(w.peers, name)
				w.unsent = true
			}
		case err != nil:
			w.note(names[i:]) // read again on the retry
			return reconcile.Result{}, fmt.Errorf("get Node %s: %w", name, err)
		default:
			addr, ok := peerAddr(&n, w.family4, w.port)
			if old, had := w.peers[name]; ok && (!had || old != addr) {
				w.peers[name] = addr
				w.unsent = true
			} else if !ok && had {
				delete(w.peers, name)
				w.unsent = true
			}
		}
	}
	if !w.unsent {
		return reconcile.Result{}, nil
	}
	if err := w.members.SetPeers(maps.Clone(w.peers)); err != nil {
		return reconcile.Result{}, err
	}
	w.unsent = false
	return reconcile.Result{}, nil
}

// peerAddr is where a Node's speaker listens: its first InternalIP of the
// family, at port; false if it has none.
func peerAddr(n *corev1.Node, family4 bool, port uint16) (netip.AddrPort, bool) {
	for _, a := range n.Status.Addresses {
		ip, err := netip.ParseAddr(a.Address)
		if a.Type != corev1.NodeInternalIP || err != nil || ip.Is4() != family4 {
			continue
		}
		return netip.AddrPortFrom(ip, port), true
	}
	return netip.AddrPort{}, false
}
