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
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	Version() uint64 // changes whenever State may have
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
	// Decided, when set, counts the IPs each wake decides again (the
	// tracker's work; with a View only).
	Decided prometheus.Counter

	// StatusResync is the average time between two full status passes
	// (DefaultStatusResync when zero).
	StatusResync time.Duration

	consumer *view.Consumer
	tracker  *l2plan.Tracker

	statusQueue *trigger.Trigger // the status controller's queue

	// Only Reconcile touches these (reconciles run one at a time).
	holding bool                // claims withdrawn while not Ready
	mine    map[netip.Addr]bool // the IPs the plan gives this node
	probe   map[netip.Addr]bool // whether the claim of each of mine is probed first
	reprobe bool                // decide every claim's probe again (after holding)
	// claimed: the claims last handed to the announcer, and the
	// interfaces they were selected from (nil until handed over): a wake
	// that changes none of this node's IPs nor its interfaces leaves them.
	claimed       []layer2.Claim
	claimedIfaces []Iface

	// Only the status reconciler touches these.
	statuses *statusStore            // set up with the manager
	sigs     map[netip.Addr]claimSig // the claims as the last status pass saw them
	// signed is what sigs were last computed from, and answerableNow the
	// claims they were computed for: while the claims, the engine's state
	// and the verdicts stay the same, a pass computes no signature, so its
	// work follows the change, not this node's claims.
	signed        signedFrom
	answerableNow []answerableClaim
	nextFull      time.Time // when the next full status pass is due

	mu sync.Mutex
	// plan is the plan last applied, kept up to date per changed IP: the
	// status writer and the reachability check read it while the next
	// wake updates the tracker.
	plan      l2plan.Plan
	claimsNow []layer2.Claim
	claimsGen uint64 // bumped whenever claimsNow is handed other claims
	// verdictsChanged: a reachability verdict changed since the last
	// status pass (StatusChanged).
	verdictsChanged bool
	writer          bool // this node is the StatusWriter of the live speakers
	active          bool // claims applied and not held back: statuses may be written
	statusDirty     map[netip.Addr]bool
	statusFull      bool
	lastPass        statusPassStats
	since           map[netip.Addr]time.Time
	events          map[netip.Addr]map[string]sentEvent // IP -> status key -> last event sent
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
			s.claimed, s.claimedIfaces = nil, nil
			// Nor may its statuses name it: the last snapshot's claims
			// are gone, and so are the events about them: an address it
			// gets back is news.
			s.mu.Lock()
			s.active = false
			s.claimsNow = nil
			s.claimsGen++
			s.events = nil
			s.mu.Unlock()
			s.reprobe = true
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
	var (
		plan    l2plan.Plan
		changed []netip.Addr
	)
	if s.View != nil {
		if !s.View.Synced() {
			return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
		}
		plan, changed = s.incrementalPlan(cfg, alive)
	} else {
		var err error
		if plan, err = s.fullPlan(ctx, cfg, alive); err != nil {
			return reconcile.Result{}, err
		}
		changed = s.allIPs(plan)
	}
	ifaces, err := s.Interfaces()
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("list interfaces: %w", err)
	}
	mineChanged := s.applyPlan(plan, changed, StatusWriter(alive) == s.Node)
	claims, handed := s.claimed, false
	if mineChanged || s.reprobe || s.claimedIfaces == nil || !slices.EqualFunc(ifaces, s.claimedIfaces, Iface.equal) {
		s.claimed, s.claimedIfaces = nil, nil // until handed over
		if claims, err = s.claims(ctx, plan, ifaces, changed); err != nil {
			return reconcile.Result{}, err
		}
		if err := s.Announcer.SetClaims(claims); err != nil {
			return reconcile.Result{}, fmt.Errorf("apply claims: %w", err)
		}
		s.claimed, s.claimedIfaces = claims, ifaces
		handed = true
	}
	// Status goes through the API server and may be slow; writing it in
	// its own controller keeps the next change's claims from waiting.
	s.mu.Lock()
	s.claimsNow = claims
	if handed {
		s.claimsGen++
	}
	s.active = true
	s.mu.Unlock()
	if s.statusQueue != nil {
		s.statusQueue.Add(statusKey)
	}
	return reconcile.Result{}, nil
}

// applyPlan copies the entries of the changed IPs into the plan the status
// writer reads and marks them for it; a change of status writer, or the
// first plan after claims were held back, has it compare every status. It
// reports whether a changed IP is or was this node's: only then may its
// claims differ.
func (s *Syncer) applyPlan(plan l2plan.Plan, changed []netip.Addr, writer bool) (mineChanged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plan.Owners == nil {
		s.plan = l2plan.Plan{Owners: map[netip.Addr]l2plan.Owner{}, Unannounced: map[netip.Addr]l2plan.Unannounced{}}
	}
	if s.statusDirty == nil {
		s.statusDirty = map[netip.Addr]bool{}
	}
	if s.since == nil {
		s.since = map[netip.Addr]time.Time{}
	}
	if s.mine == nil {
		s.mine = map[netip.Addr]bool{}
	}
	for _, ip := range changed {
		s.statusDirty[ip] = true
		if o, ok := plan.Owners[ip]; ok {
			o.Services, o.Interfaces = slices.Clone(o.Services), slices.Clone(o.Interfaces)
			s.plan.Owners[ip] = o
		} else {
			delete(s.plan.Owners, ip)
		}
		if u, ok := plan.Unannounced[ip]; ok {
			u.Services = slices.Clone(u.Services)
			s.plan.Unannounced[ip] = u
		} else {
			delete(s.plan.Unannounced, ip)
		}
		if s.mine[ip] {
			mineChanged = true
		}
		if o, ok := plan.Owners[ip]; ok && o.Node == s.Node {
			mineChanged = true
			s.mine[ip] = true
			if _, ok := s.since[ip]; !ok {
				s.since[ip] = time.Now()
			}
		} else {
			delete(s.mine, ip)
			delete(s.since, ip)
		}
	}
	if writer != s.writer || !s.active {
		s.statusFull = true
	}
	s.writer = writer
	return mineChanged
}

// allIPs is every IP of plan and of the plan last applied: what a plan
// computed from scratch may have changed.
func (s *Syncer) allIPs(plan l2plan.Plan) []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[netip.Addr]bool{}
	for _, p := range []l2plan.Plan{plan, s.plan} {
		for ip := range p.Owners {
			seen[ip] = true
		}
		for ip := range p.Unannounced {
			seen[ip] = true
		}
	}
	return slices.Collect(maps.Keys(seen))
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
// tracker, and returns its plan (shared: read it before the next wake)
// and the IPs that may have changed.
func (s *Syncer) incrementalPlan(cfg *config.Config, alive []string) (l2plan.Plan, []netip.Addr) {
	if s.tracker == nil {
		s.tracker = l2plan.NewTracker()
	}
	Apply(s.tracker, s.View.Changes(s.consumer))
	s.tracker.SetConfig(cfg)
	s.tracker.SetAlive(alive)
	plan, changed := s.tracker.Update()
	if s.Decided != nil {
		s.Decided.Add(float64(s.tracker.Decided()))
	}
	return plan, changed
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

// statusKey is the one key of the status controller.
var statusKey = reconcile.Request{NamespacedName: client.ObjectKey{Name: "layer2-status"}}

// claims is this node's share of the plan, in proportion to it (the plan's
// other IPs are not visited). A claim skips the conflict probe only when a
// status says a node already announced the IP without a conflict (a
// failover: the address is known to be ours, and every millisecond
// counts); an IP new to the cluster, or one whose last owner saw a
// conflict or never finished announcing, is probed first. That is decided
// when the IP becomes this node's (the probe only matters for a claim the
// layer 2 engine does not have yet), and again for all after the claims
// were held back.
func (s *Syncer) claims(ctx context.Context, plan l2plan.Plan, ifaces []Iface, changed []netip.Addr) ([]layer2.Claim, error) {
	if s.probe == nil {
		s.probe = map[netip.Addr]bool{}
	}
	decide := changed
	if s.reprobe {
		decide = slices.Collect(maps.Keys(s.mine))
		s.reprobe = false
	}
	for _, ip := range decide {
		if !s.mine[ip] {
			delete(s.probe, ip)
			continue
		}
		announcedBefore, err := s.announcedBefore(ctx, ip, plan.Owners[ip].Services)
		if err != nil {
			s.reprobe = true
			return nil, err
		}
		s.probe[ip] = !announcedBefore
	}
	claims := make([]layer2.Claim, 0, len(s.mine))
	for ip := range s.mine {
		claims = append(claims, layer2.Claim{IP: ip, Interfaces: Select(ip, plan.Owners[ip].Interfaces, ifaces), Probe: s.probe[ip]})
	}
	slices.SortFunc(claims, func(a, b layer2.Claim) int { return a.IP.Compare(b.IP) })
	return claims, nil
}

// announcedBefore reports whether a status of ip says a node announced it
// without a conflict.
func (s *Syncer) announcedBefore(ctx context.Context, ip netip.Addr, svcs []types.NamespacedName) (bool, error) {
	for _, svc := range svcs {
		var st v1beta1.ServiceL2Status
		err := s.Client.Get(ctx, client.ObjectKey{Namespace: svc.Namespace, Name: StatusName(svc.Name, ip)}, &st, client.UnsafeDisableDeepCopy)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return false, fmt.Errorf("get ServiceL2Status of %s for %s: %w", ip, svc, err)
		case st.Status.Node != "" && st.Status.Conflict == nil:
			return true, nil
		}
	}
	return false, nil
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
