// Package bgpsync keeps this node's BGP speaker in line with the cluster:
// it plans the node's sessions and routes (bgpplan), resolves passwords
// from Secrets, hands both to the embedded GoBGP (which applies only the
// difference, at once: no debounce), and reports each session through a
// BGPSessionStatus.
package bgpsync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// Key is the reconcile key: the plan covers every route of the node, and
// GoBGP applies only what changed.
var Key = reconcile.Request{NamespacedName: client.ObjectKey{Name: "bgp"}}

// Speaker is the part of bgp.Speaker the syncer drives.
type Speaker interface {
	SetPeers([]bgp.Peer) error
	SetRoutes([]bgp.Route) error
	Status() []bgp.PeerStatus
}

// Syncer is the BGP reconciler of one speaker.
type Syncer struct {
	// Client reads from the manager's cache, which watches Secrets only
	// in Namespace.
	Client    client.Client
	Namespace string // the only namespace passwordSecret may point to
	Log       logr.Logger
	Node      string
	Config    func() *config.Config
	Speaker   Speaker

	mu       sync.Mutex
	problems map[string]string // peer -> configuration problem, for status
}

// SetupWithManager registers the syncer.
func (s *Syncer) SetupWithManager(mgr ctrl.Manager, t *trigger.Trigger) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{Key}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("bgp").
		WatchesRawSource(t.Source()).
		Watches(&corev1.Service{}, toKey).
		Watches(&discoveryv1.EndpointSlice{}, toKey).
		Watches(&corev1.Node{}, toKey, builder.WithPredicates(nodePredicate)).
		// A rotated password reaches GoBGP at once; other Secrets do not wake us.
		Watches(&corev1.Secret{}, s.secretHandler(), builder.WithPredicates(passwordChanged)).
		Complete(s)
}

// Reconcile applies the node's plan.
func (s *Syncer) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	cfg := s.Config()
	if cfg == nil {
		return reconcile.Result{}, nil
	}
	var (
		svcs corev1.ServiceList
		eps  discoveryv1.EndpointSliceList
		node corev1.Node
	)
	if err := s.Client.Get(ctx, client.ObjectKey{Name: s.Node}, &node); err != nil {
		return reconcile.Result{}, fmt.Errorf("get node %s: %w", s.Node, err)
	}
	if err := s.Client.List(ctx, &svcs); err != nil {
		return reconcile.Result{}, err
	}
	if err := s.Client.List(ctx, &eps); err != nil {
		return reconcile.Result{}, err
	}
	plan := bgpplan.Compute(cfg, lbstate.Build(ptrs(svcs.Items), ptrs(eps.Items)), l2plan.NodeFrom(&node))

	peers := make([]bgp.Peer, 0, len(plan.Peers))
	problems := map[string]string{}
	for _, p := range plan.Peers {
		pw, err := s.password(ctx, p.Password)
		if err != nil {
			problems[p.Name] = err.Error()
			continue // no session rather than one with the wrong password
		}
		p.Peer.Password = pw
		peers = append(peers, p.Peer)
	}
	s.mu.Lock()
	s.problems = problems
	s.mu.Unlock()
	var errs []error
	if err := s.Speaker.SetPeers(peers); err != nil {
		errs = append(errs, fmt.Errorf("peers: %w", err))
	}
	// Always set routes, even none: sessions open only once the speaker
	// knows its routes (graceful restart).
	if err := s.Speaker.SetRoutes(plan.Routes); err != nil {
		errs = append(errs, fmt.Errorf("routes: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		// Invalid entries are left out and the rest is applied; retrying
		// would not change that, so only report.
		s.Log.Info("BGP configuration partly applied", "error", err.Error())
	}
	return reconcile.Result{}, nil
}

// Problems are configuration problems per peer (a missing Secret), which
// keep its session closed.
func (s *Syncer) Problems() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.problems))
	for k, v := range s.problems {
		out[k] = v
	}
	return out
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
