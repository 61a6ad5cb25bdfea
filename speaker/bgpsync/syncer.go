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
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/view"
)

// Key is the one reconcile key: the tracker holds what changed, and the
// speaker is handed only the routes of the prefixes that changed.
var Key = reconcile.Request{NamespacedName: client.ObjectKey{Name: "bgp"}}

// Speaker is the part of bgp.Speaker the syncer drives.
type Speaker interface {
	SetPeers([]bgp.Peer) error
	SetRoutes([]bgp.Route) error
	UpdateRoutes([]netip.Prefix, []bgp.Route) error
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
	// View supplies the Services, their endpoints and this node as they
	// change: a wake decides again only the IPs the changes reach
	// (bgpplan.Tracker) instead of listing everything.
	View *view.View
	// Decided, when set, counts the IPs each wake decides again (the
	// tracker's work).
	Decided prometheus.Counter

	consumer *view.Consumer
	tracker  *bgpplan.Tracker
	nodeSeen bool       // the view holds this node
	peers    []bgp.Peer // last handed to the speaker, passwords resolved
	mu       sync.Mutex
	routed   bool              // routes handed to the speaker at least once
	started  time.Time         // set up; PeerWait counts from here
	ready    bool              // Ready held once
	problems map[string]string // peer -> configuration problem, for status
	// advertised: the IPs this node advertises and their Services
	// (noteAdvertised), for the reachability check.
	advertised map[netip.Addr][]types.NamespacedName
}

// SetupWithManager registers the syncer: the view wakes it when a
// condensed Service or Node changed, the trigger on configuration changes.
func (s *Syncer) SetupWithManager(mgr ctrl.Manager, t *trigger.Trigger) error {
	s.consumer = s.View.Consumer(func() { t.Add(Key) })
	s.started = time.Now()
	return ctrl.NewControllerManagedBy(mgr).Named("bgp").
		WatchesRawSource(t.Source()).
		// A rotated password reaches GoBGP at once; other Secrets do not wake us.
		Watches(&corev1.Secret{}, s.secretHandler(), builder.WithPredicates(passwordChanged)).
		Complete(s)
}

// Reconcile applies what changed in the node's plan.
func (s *Syncer) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	cfg := s.Config()
	if cfg == nil {
		return reconcile.Result{}, nil
	}
	if !s.View.Synced() {
		return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	if s.tracker == nil {
		s.tracker = bgpplan.NewTracker()
	}
	if present, changed := Apply(s.tracker, s.View.Changes(s.consumer), s.Node); changed {
		s.nodeSeen = present
	}
	if !s.nodeSeen {
		// Nothing is applied before the node is known: its labels decide
		// the sessions. The view wakes the syncer when it appears.
		return reconcile.Result{}, fmt.Errorf("node %s: not found", s.Node)
	}
	s.tracker.SetConfig(cfg)
	delta := s.tracker.Update()
	if s.Decided != nil {
		s.Decided.Add(float64(delta.Decided))
	}
	s.noteAdvertised(delta)

	var errs []error
	// Passwords are resolved on every wake (a Secret's change wakes it
	// too) from the cache, a handful of peers; the speaker hears only of
	// a difference.
	peers, problems := s.resolve(ctx, s.tracker.Peers())
	s.mu.Lock()
	s.problems = problems
	s.mu.Unlock()
	s.mu.Lock()
	routed := s.routed
	s.mu.Unlock()
	if !reflect.DeepEqual(peers, s.peers) || !routed {
		if err := s.Speaker.SetPeers(peers); err != nil {
			errs = append(errs, fmt.Errorf("peers: %w", err))
		}
		s.peers = peers
	}
	// Always set routes once, even none: sessions open only once the
	// speaker knows its routes (graceful restart). Then only the prefixes
	// whose routes changed.
	switch {
	case !routed:
		if err := s.Speaker.SetRoutes(s.tracker.Routes()); err != nil {
			errs = append(errs, fmt.Errorf("routes: %w", err))
		}
		s.mu.Lock()
		s.routed = true
		s.mu.Unlock()
	case len(delta.Prefixes) > 0:
		if err := s.Speaker.UpdateRoutes(delta.Prefixes, s.tracker.RoutesFor(delta.Prefixes)); err != nil {
			errs = append(errs, fmt.Errorf("routes: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Invalid entries are left out and the rest is applied; retrying
		// would not change that, so only report.
		s.Log.Info("BGP configuration partly applied", "error", err.Error())
	}
	return reconcile.Result{}, nil
}

// resolve gives each peer its password; a peer whose password cannot be
// read is left out (no session rather than one with the wrong password)
// and its problem reported.
func (s *Syncer) resolve(ctx context.Context, planned []bgpplan.Peer) ([]bgp.Peer, map[string]string) {
	peers := make([]bgp.Peer, 0, len(planned))
	problems := map[string]string{}
	for _, p := range planned {
		pw, err := s.password(ctx, p.Password)
		if err != nil {
			problems[p.Name] = err.Error()
			continue
		}
		p.Peer.Password = pw
		peers = append(peers, p.Peer)
	}
	return peers, problems
}

// Apply hands a view's changes to the tracker of node's plan; other nodes
// change nothing in it. It reports whether node is in the view now, and
// whether that changed.
func Apply(t *bgpplan.Tracker, ch view.Changes, node string) (present, changed bool) {
	for k, svc := range ch.Services {
		if svc == nil {
			t.DeleteService(k)
		} else {
			t.SetService(*svc)
		}
	}
	n, changed := ch.Nodes[node]
	if n != nil {
		t.SetNode(*n)
	}
	return n != nil, changed
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
