// Package l2sync keeps this node's layer 2 announcements in line with the
// cluster: it reads the configuration, Services, EndpointSlices, Nodes and
// the live speakers, asks l2plan who announces what, hands this node's
// share to the ARP/NDP announcer, and reports the result through
// ServiceL2Status objects and events on change.
//
// Claims are applied before anything is written to the API server, so an
// unreachable API server delays status, never failover.
package l2sync

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/reach"
	"github.com/ironlb/ironlb/speaker/view"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=servicel2statuses,verbs=get;list;watch;create;update;patch;delete

// Event reasons on Services.
const (
	ReasonAnnounced = "L2Announced"
	ReasonWithdrawn = "L2Withdrawn"
	ReasonConflict  = "AddressConflict"
)

// Key is the one reconcile key: every input change recomputes the plan,
// because the bounded-load election balances all IPs together. Applying it
// touches only what changed (the announcer and the status writes diff).
var Key = reconcile.Request{NamespacedName: client.ObjectKey{Name: "layer2"}}

// Announcer is the part of layer2.Announcer the syncer drives.
type Announcer interface {
	SetClaims([]layer2.Claim) error
	State() []layer2.Announcement
}

// Syncer is the layer 2 reconciler of one speaker.
type Syncer struct {
	Client     client.Client
	Recorder   record.EventRecorder
	Log        logr.Logger
	Node       string
	Config     func() *config.Config // configuration in force; nil before the first compile
	Alive      func() []string       // live speakers, this one included
	Ready      func() bool           // false until the speaker has heard its peers
	Announcer  Announcer
	Interfaces func() ([]Iface, error)
	// View, when set, supplies the Services and Nodes incrementally: each
	// wake applies only what changed to the plan (l2plan.Tracker) instead
	// of listing everything and electing every IP again.
	View *view.View
	// Reach, when set, is the reachability check's verdict for a Service
	// on an address this node announces; it goes into the status's
	// Answering condition.
	Reach func(types.NamespacedName, netip.Addr) (reach.Verdict, bool)

	consumer *view.Consumer
	tracker  *l2plan.Tracker

	statusQueue *trigger.Trigger // the status controller's queue

	// holding: claims withdrawn while not Ready (reconciles run one at a
	// time, so only Reconcile touches it).
	holding bool

	mu     sync.Mutex
	last   *snapshot
	since  map[netip.Addr]time.Time
	events map[string]sentEvent // status name -> last event sent
}

// Reconcile recomputes the plan and applies this node's part of it.
func (s *Syncer) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	if !s.Ready() {
		// Claims made on a view the speaker cannot trust (it was cut off
		// and held every peer dead) go: answering for them on its return
		// would make two nodes answer for each until the views agree.
		if !s.holding {
			if err := s.Announcer.SetClaims(nil); err != nil {
				return reconcile.Result{}, fmt.Errorf("withdraw claims until the peers are heard: %w", err)
			}
			s.holding = true
			// Nor may its statuses name it: the last snapshot's claims
			// are gone, and so are the events about them: an address it
			// gets back is news.
			s.mu.Lock()
			s.last = nil
			s.events = nil
			s.mu.Unlock()
			s.Log.Info("layer 2 claims withdrawn until the peers are heard")
		}
		return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	s.holding = false
	cfg := s.Config()
	if cfg == nil {
		return reconcile.Result{}, nil
	}
	alive := s.Alive()
	var plan l2plan.Plan
	if s.View != nil {
		if !s.View.Synced() {
			return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
		}
		plan = s.incrementalPlan(cfg, alive)
	} else {
		var err error
		if plan, err = s.fullPlan(ctx, cfg, alive); err != nil {
			return reconcile.Result{}, err
		}
	}
	// The cache's own objects, not copies: one status per layer 2 IP, and
	// a copy of each on every change costs more than the change. Nothing
	// here modifies them (put copies before it updates).
	var st v1beta1.ServiceL2StatusList
	if err := s.Client.List(ctx, &st, client.UnsafeDisableDeepCopy); err != nil {
		return reconcile.Result{}, fmt.Errorf("list %T: %w", &st, err)
	}
	existing := map[string]*v1beta1.ServiceL2Status{}
	for i := range st.Items {
		existing[st.Items[i].Namespace+"/"+st.Items[i].Name] = &st.Items[i]
	}
	ifaces, err := s.Interfaces()
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("list interfaces: %w", err)
	}
	claims := s.claims(plan, ifaces, existing)
	if err := s.Announcer.SetClaims(claims); err != nil {
		return reconcile.Result{}, fmt.Errorf("apply claims: %w", err)
	}
	// Status goes through the API server and may be slow; writing it in
	// its own controller keeps the next change's claims from waiting.
	s.mu.Lock()
	s.last = &snapshot{plan: plan, claims: claims, writer: StatusWriter(alive) == s.Node}
	s.mu.Unlock()
	if s.statusQueue != nil {
		s.statusQueue.Add(statusKey)
	}
	return reconcile.Result{}, nil
}

// fullPlan lists every Service, EndpointSlice and Node and elects every IP.
func (s *Syncer) fullPlan(ctx context.Context, cfg *config.Config, alive []string) (l2plan.Plan, error) {
	var (
		svcs   corev1.ServiceList
		slices discoveryv1.EndpointSliceList
		nodes  corev1.NodeList
	)
	for _, l := range []client.ObjectList{&svcs, &slices, &nodes} {
		if err := s.Client.List(ctx, l); err != nil {
			return l2plan.Plan{}, fmt.Errorf("list %T: %w", l, err)
		}
	}
	services := lbstate.Build(ptrs(svcs.Items), ptrs(slices.Items))
	var ns []l2plan.Node
	for i := range nodes.Items {
		ns = append(ns, l2plan.NodeFrom(&nodes.Items[i]))
	}
	return l2plan.Compute(cfg, services, ns, alive), nil
}

// incrementalPlan applies the view's changes since the last wake to the
// tracker. The plan returned is a copy: the status writer reads it while
// the next wake updates the tracker.
func (s *Syncer) incrementalPlan(cfg *config.Config, alive []string) l2plan.Plan {
	if s.tracker == nil {
		s.tracker = l2plan.NewTracker()
	}
	Apply(s.tracker, s.View.Changes(s.consumer))
	s.tracker.SetConfig(cfg)
	s.tracker.SetAlive(alive)
	plan, _ := s.tracker.Update()
	return l2plan.Plan{Owners: maps.Clone(plan.Owners), Unannounced: maps.Clone(plan.Unannounced)}
}

// Apply hands a view's changes to a tracker.
func Apply(t *l2plan.Tracker, ch view.Changes) {
	for k, svc := range ch.Services {
		if svc == nil {
			t.DeleteService(k)
		} else {
			t.SetService(*svc)
		}
	}
	for name, n := range ch.Nodes {
		if n == nil {
			t.DeleteNode(name)
		} else {
			t.SetNode(*n)
		}
	}
}

// snapshot is the last plan applied, for the status writer.
type snapshot struct {
	plan   l2plan.Plan
	claims []layer2.Claim
	writer bool
}

// statusKey is the one key of the status controller.
var statusKey = reconcile.Request{NamespacedName: client.ObjectKey{Name: "layer2-status"}}

// statusReconciler writes the ServiceL2Status of the last applied plan.
type statusReconciler struct{ s *Syncer }

func (r statusReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	s := r.s
	s.mu.Lock()
	snap := s.last
	s.mu.Unlock()
	if snap == nil {
		return reconcile.Result{}, nil
	}
	var st v1beta1.ServiceL2StatusList
	if err := s.Client.List(ctx, &st, client.UnsafeDisableDeepCopy); err != nil { // read only, as in Reconcile
		return reconcile.Result{}, fmt.Errorf("list ServiceL2Status: %w", err)
	}
	existing := map[string]*v1beta1.ServiceL2Status{}
	for i := range st.Items {
		existing[st.Items[i].Namespace+"/"+st.Items[i].Name] = &st.Items[i]
	}
	if err := s.writeStatus(ctx, snap.plan, snap.claims, existing, snap.writer); err != nil {
		// Usually the cache lagging behind an earlier write. Retry soon at
		// a steady pace: the queue's exponential backoff would let a few
		// such misses delay the status by many seconds.
		s.Log.V(1).Info("status write failed, retrying", "error", err.Error())
		return reconcile.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	return reconcile.Result{}, nil
}

// claims is this node's share of the plan. A claim skips the conflict
// probe only when a status says a node already announced the IP without a
// conflict (a failover: the address is known to be ours, and every
// millisecond counts); an IP new to the cluster, or one whose last owner
// saw a conflict or never finished announcing, is probed first.
func (s *Syncer) claims(plan l2plan.Plan, ifaces []Iface, existing map[string]*v1beta1.ServiceL2Status) []layer2.Claim {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since == nil {
		s.since = map[netip.Addr]time.Time{}
	}
	var claims []layer2.Claim
	for ip, o := range plan.Owners {
		if o.Node != s.Node {
			delete(s.since, ip)
			continue
		}
		if _, ok := s.since[ip]; !ok {
			s.since[ip] = time.Now()
		}
		announcedBefore := false
		for _, svc := range o.Services {
			if e := existing[svc.Namespace+"/"+StatusName(svc.Name, ip)]; e != nil && e.Status.Node != "" && e.Status.Conflict == nil {
				announcedBefore = true
			}
		}
		claims = append(claims, layer2.Claim{IP: ip, Interfaces: Select(ip, o.Interfaces, ifaces), Probe: !announcedBefore})
	}
	slices.SortFunc(claims, func(a, b layer2.Claim) int { return a.IP.Compare(b.IP) })
	return claims
}

// StatusWriter is the speaker that writes the statuses no single node owns
// (IPs no node announces, stale status objects, the sessions of dead
// speakers, the speakers' presence Lease): the first live speaker by name,
// so exactly one does.
func StatusWriter(alive []string) string {
	if len(alive) == 0 {
		return ""
	}
	return slices.Min(alive)
}

// StatusName is the ServiceL2Status name for one Service IP: IPv6 is
// written out in full so the name never starts or ends with '-' (as
// "2001:db8::" would).
func StatusName(service string, ip netip.Addr) string {
	if ip.Is6() {
		return service + "." + strings.ReplaceAll(ip.StringExpanded(), ":", "-")
	}
	return service + "." + ip.String()
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
