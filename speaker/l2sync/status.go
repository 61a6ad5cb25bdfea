package l2sync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/reach"
)

// DefaultStatusResync is how often, on average, the status writer compares
// every status object with the plan, as a safety net: the passes between
// compare only the IPs that changed, so a write lost without an error or
// a status whose watch event went missing is repaired by this pass.
const DefaultStatusResync = 5 * time.Minute

// statusPassStats is what one status pass did, for tests and logs.
type statusPassStats struct {
	Full     bool
	IPs      int // IPs decided
	Compared int // status objects compared with what they should be
	Signed   int // claims whose signature (claimSig) was computed
	Written  int // created or updated
	Deleted  int
}

// statusReconciler writes the ServiceL2Status of the plan last applied.
type statusReconciler struct{ s *Syncer }

func (r statusReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	s := r.s
	now := time.Now()
	s.mu.Lock()
	if !s.active {
		s.mu.Unlock()
		return reconcile.Result{}, nil
	}
	full := s.statusFull || !now.Before(s.nextFull)
	dirty := s.statusDirty
	s.statusDirty, s.statusFull = map[netip.Addr]bool{}, false
	claims, writer, gen := s.claimsNow, s.writer, s.claimsGen
	verdicts := s.verdictsChanged
	s.verdictsChanged = false
	s.mu.Unlock()

	answerable, signed := s.signClaims(claims, gen, full || verdicts, dirty)
	var (
		stats statusPassStats
		err   error
	)
	if full {
		stats, err = s.fullStatusPass(ctx, answerable, writer, now)
	} else {
		stats, err = s.statusPass(ctx, dirty, answerable, writer, now)
	}
	stats.Signed = signed
	s.mu.Lock()
	s.lastPass = stats
	if err != nil {
		if verdicts {
			s.verdictsChanged = true // their claims are signed again next time
		}
		// Usually the cache lagging behind an earlier write. Retry soon at
		// a steady pace: the queue's exponential backoff would let a few
		// such misses delay the status by many seconds.
		if full {
			s.statusFull = true
		}
		for ip := range dirty {
			s.statusDirty[ip] = true
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.Log.V(1).Info("status write failed, retrying", "error", err.Error())
		return reconcile.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	if full {
		resync := s.StatusResync
		if resync <= 0 {
			resync = DefaultStatusResync
		}
		// Jittered, so the speakers' full passes spread out.
		s.nextFull = now.Add(resync/2 + rand.N(resync))
	}
	return reconcile.Result{RequeueAfter: time.Until(s.nextFull)}, nil
}

// claimSig is what a status depends on of this node's claim of an IP
// besides the plan: the layer 2 engine's state and the reachability
// verdicts.
type claimSig struct {
	interfaces string
	conflict   v1beta1.AddressConflict
	verdicts   string
}

// signedFrom is what the claims' signatures were computed from: the
// syncer's claims (claimsGen) and the layer 2 engine's state (its Version).
type signedFrom struct{ claims, engine uint64 }

// signClaims returns the claims the engine can answer for (answerable),
// and has markChangedClaims add to dirty those whose signature changed,
// with how many it signed. It signs them again only when the claims or the
// engine's state changed since it last did, or when force is set (a full
// pass, a verdict changed); otherwise it returns the claims it signed then.
func (s *Syncer) signClaims(claims []layer2.Claim, gen uint64, force bool, dirty map[netip.Addr]bool) ([]answerableClaim, int) {
	// Read before the state: a change after it shows next time.
	from := signedFrom{claims: gen, engine: s.Announcer.Version()}
	if !force && s.answerableNow != nil && from == s.signed {
		return s.answerableNow, 0
	}
	answerable := s.answerable(claims)
	s.markChangedClaims(answerable, dirty)
	s.signed, s.answerableNow = from, answerable
	return answerable, len(answerable)
}

// markChangedClaims adds to dirty the IPs of the claims whose engine
// state, interfaces or verdicts changed since the last pass, and of the
// claims no longer answerable (an interface went down). Work in
// proportion to this node's claims, not to all IPs.
func (s *Syncer) markChangedClaims(answerable []answerableClaim, dirty map[netip.Addr]bool) {
	sigs := make(map[netip.Addr]claimSig, len(answerable))
	for _, c := range answerable {
		sig := claimSig{interfaces: strings.Join(announcedOn(c.state, c.Interfaces), "\x00")}
		if cf := conflictOf(c.state); cf != nil {
			sig.conflict = *cf
		}
		if s.Reach != nil {
			for _, svc := range s.ownerOf(c.IP).Services {
				if v, ok := s.Reach(svc, c.IP); ok {
					sig.verdicts += string(v.Status) + "|" + v.Reason + "|" + v.Message + "\n"
				}
			}
		}
		sigs[c.IP] = sig
		if old, ok := s.sigs[c.IP]; !ok || old != sig {
			dirty[c.IP] = true
		}
	}
	for ip := range s.sigs {
		if _, ok := sigs[ip]; !ok {
			dirty[ip] = true
		}
	}
	s.sigs = sigs
}

// ownerOf is the plan's owner of ip.
func (s *Syncer) ownerOf(ip netip.Addr) l2plan.Owner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plan.Owners[ip]
}

// statusPass decides and writes the statuses of the dirty IPs only,
// reading their objects from the cache by IP and by name.
func (s *Syncer) statusPass(ctx context.Context, dirty map[netip.Addr]bool, answerable []answerableClaim,
	writer bool, now time.Time) (statusPassStats, error) {
	stats := statusPassStats{}
	claims := make(map[netip.Addr]*answerableClaim, len(answerable))
	for i := range answerable {
		claims[answerable[i].IP] = &answerable[i]
	}
	var errs []error
	for ip := range dirty {
		if claims[ip] == nil && !writer {
			// Not this node's to write: decideIP wants nothing of it.
			s.keepEvents(ip, nil, now)
			continue
		}
		in := s.inputs(ip, claims[ip], writer, now)
		existing, err := s.existingOf(ip, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in.Existing = existing
		errs = append(errs, s.applyDecision(ctx, in, &stats))
	}
	return stats, errors.Join(errs...)
}

// existingOf reads from the informer's store (the cached objects: nothing
// here modifies them) the status objects of ip: those whose status names
// it, and those named for it and one of its Services.
func (s *Syncer) existingOf(ip netip.Addr, in ipInputs) (map[string]*v1beta1.ServiceL2Status, error) {
	byIP, err := s.statuses.byIP(ip)
	if err != nil {
		return nil, fmt.Errorf("ServiceL2Status of %s: %w", ip, err)
	}
	out := make(map[string]*v1beta1.ServiceL2Status, len(byIP))
	for _, st := range byIP {
		out[st.Namespace+"/"+st.Name] = st
	}
	for _, svc := range servicesOf(in) {
		name := StatusName(svc.Name, ip)
		key := svc.Namespace + "/" + name
		if out[key] != nil {
			continue
		}
		st, ok, err := s.statuses.get(svc.Namespace, name)
		if err != nil {
			return nil, fmt.Errorf("ServiceL2Status %s: %w", key, err)
		}
		if ok {
			out[key] = st
		}
	}
	return out, nil
}

func servicesOf(in ipInputs) []types.NamespacedName {
	switch {
	case in.Owner != nil:
		return in.Owner.Services
	case in.Unannounced != nil:
		return in.Unannounced.Services
	}
	return nil
}

// fullStatusPass compares every status object with the plan: the first
// pass, the one after this node becomes or stops being the status writer
// or returns from holding its claims, and the periodic safety net.
func (s *Syncer) fullStatusPass(ctx context.Context, answerable []answerableClaim, writer bool, now time.Time) (statusPassStats, error) {
	stats := statusPassStats{Full: true}
	var list v1beta1.ServiceL2StatusList
	if err := s.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil { // read only
		return stats, fmt.Errorf("list ServiceL2Status: %w", err)
	}
	byKey := make(map[string]*v1beta1.ServiceL2Status, len(list.Items))
	byIP := map[netip.Addr][]*v1beta1.ServiceL2Status{}
	var errs []error
	for i := range list.Items {
		e := &list.Items[i]
		byKey[e.Namespace+"/"+e.Name] = e
		ip, err := netip.ParseAddr(e.Status.IP)
		if err != nil {
			if writer {
				stats.Compared++
				errs = append(errs, s.delete(ctx, e, &stats))
			}
			continue
		}
		byIP[ip] = append(byIP[ip], e)
	}
	claims := make(map[netip.Addr]*answerableClaim, len(answerable))
	for i := range answerable {
		claims[answerable[i].IP] = &answerable[i]
	}
	s.mu.Lock()
	ips := make(map[netip.Addr]bool, len(s.plan.Owners)+len(s.plan.Unannounced)+len(byIP))
	for ip := range s.plan.Owners {
		ips[ip] = true
	}
	for ip := range s.plan.Unannounced {
		ips[ip] = true
	}
	for ip := range s.events {
		ips[ip] = true
	}
	s.mu.Unlock()
	for ip := range byIP {
		ips[ip] = true
	}
	for ip := range ips {
		in := s.inputs(ip, claims[ip], writer, now)
		in.Existing = map[string]*v1beta1.ServiceL2Status{}
		for _, e := range byIP[ip] {
			in.Existing[e.Namespace+"/"+e.Name] = e
		}
		for _, svc := range servicesOf(in) {
			key := svc.Namespace + "/" + StatusName(svc.Name, ip)
			if e := byKey[key]; e != nil {
				in.Existing[key] = e
			}
		}
		errs = append(errs, s.applyDecision(ctx, in, &stats))
	}
	s.expireEvents(now)
	return stats, errors.Join(errs...)
}

// inputs gathers what decideIP needs of one IP but the objects.
func (s *Syncer) inputs(ip netip.Addr, claim *answerableClaim, writer bool, now time.Time) ipInputs {
	in := ipInputs{IP: ip, Node: s.Node, Writer: writer, Claim: claim, Now: metav1.NewTime(now)}
	s.mu.Lock()
	if o, ok := s.plan.Owners[ip]; ok {
		in.Owner = &o
	}
	if u, ok := s.plan.Unannounced[ip]; ok {
		in.Unannounced = &u
	}
	in.Since = s.since[ip]
	s.mu.Unlock()
	if claim != nil && in.Owner != nil && s.Reach != nil {
		in.Verdicts = map[types.NamespacedName]reach.Verdict{}
		for _, svc := range in.Owner.Services {
			if v, ok := s.Reach(svc, ip); ok {
				in.Verdicts[svc] = v
			}
		}
	}
	return in
}

// applyDecision decides one IP and writes the difference.
func (s *Syncer) applyDecision(ctx context.Context, in ipInputs, stats *statusPassStats) error {
	d := decideIP(in)
	stats.IPs++
	stats.Compared += len(in.Existing)
	var errs []error
	for _, p := range d.Puts {
		errs = append(errs, s.put(ctx, in.IP, p, stats))
	}
	for _, e := range d.Deletes {
		errs = append(errs, s.delete(ctx, e, stats))
	}
	s.keepEvents(in.IP, d.Want, in.Now.Time)
	return errors.Join(errs...)
}

func (s *Syncer) delete(ctx context.Context, e *v1beta1.ServiceL2Status, stats *statusPassStats) error {
	stats.Deleted++
	if err := s.Client.Delete(ctx, e); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete ServiceL2Status %s/%s: %w", e.Namespace, e.Name, err)
	}
	return nil
}

// put creates or updates one status object, and sends an event on the
// Service when the announcing node or the reason changes.
func (s *Syncer) put(ctx context.Context, ip netip.Addr, p statusPut, stats *statusPassStats) error {
	var owner corev1.Service
	if err := s.Client.Get(ctx, p.Service, &owner); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted: garbage collection removes its statuses
		}
		return fmt.Errorf("get service %s: %w", p.Service, err)
	}
	stats.Written++
	if p.Current == nil {
		obj := &v1beta1.ServiceL2Status{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: p.Service.Namespace, Name: p.Name,
				Labels: map[string]string{"ironlb.io/service-name": p.Service.Name},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Service", Name: owner.Name, UID: owner.UID,
				}},
			},
			Status: p.Status,
		}
		// AlreadyExists means the cache has not caught up with an earlier
		// write: the error requeues, and the next pass updates it.
		if err := s.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("create status %s/%s: %w", p.Service.Namespace, p.Name, err)
		}
	} else {
		upd := p.Current.DeepCopy() // the cache's object: never modified in place
		upd.Status = p.Status
		if err := s.Client.Update(ctx, upd); err != nil {
			return fmt.Errorf("update status %s/%s: %w", p.Service.Namespace, p.Name, err)
		}
	}
	s.event(&owner, ip, p.Name, p.Status)
	return nil
}

// eventMemory is how long the text of the last event about a status this
// node no longer writes is kept. An address that comes back sooner (its
// claim flapped while the speakers' views of each other did) is not news;
// one that comes back later is reported again, and the memory does not
// keep an entry per Service IP ever announced here.
const eventMemory = time.Minute

// sentEvent is the last event sent about one status object.
type sentEvent struct {
	text    string
	dropped time.Time // when this node stopped writing that status; zero while it does
}

// keepEvents notes, for the statuses of one IP that have an event, whether
// this node still writes them (want) or since when it no longer does.
func (s *Syncer) keepEvents(ip netip.Addr, want []string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, e := range s.events[ip] {
		switch {
		case slices.Contains(want, key):
			e.dropped = time.Time{}
		case e.dropped.IsZero():
			e.dropped = now
		default:
			continue
		}
		s.events[ip][key] = e
	}
}

// expireEvents forgets the events of the statuses this node has not
// written for eventMemory.
func (s *Syncer) expireEvents(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ip, m := range s.events {
		for key, e := range m {
			if !e.dropped.IsZero() && now.Sub(e.dropped) > eventMemory {
				delete(m, key)
			}
		}
		if len(m) == 0 {
			delete(s.events, ip)
		}
	}
}

// event reports a change of announcing node, conflict or reason, once
// while this node writes the status (see eventMemory): two speakers that
// briefly both claim an address (views converging) overwrite each other's
// status a few times, and each tells it once.
func (s *Syncer) event(svc *corev1.Service, ip netip.Addr, name string, st v1beta1.ServiceL2StatusStatus) {
	var typ, reason, msg string
	switch {
	case st.Conflict != nil:
		typ, reason = corev1.EventTypeWarning, ReasonConflict
		msg = fmt.Sprintf("%s is already used by another host (MAC %s on %s): node %s does not announce it", st.IP, st.Conflict.MAC, st.Conflict.Interface, st.Node)
	case st.Node != "":
		typ, reason = corev1.EventTypeNormal, ReasonAnnounced
		msg = fmt.Sprintf("%s announced by node %s on %v", st.IP, st.Node, st.Interfaces)
	default:
		typ, reason = corev1.EventTypeWarning, ReasonWithdrawn
		msg = fmt.Sprintf("%s is not announced: %s", st.IP, st.Reason)
	}
	now := time.Now()
	key := svc.Namespace + "/" + name
	s.mu.Lock()
	if s.events == nil {
		s.events = map[netip.Addr]map[string]sentEvent{}
	}
	if s.events[ip] == nil {
		s.events[ip] = map[string]sentEvent{}
	}
	last, ok := s.events[ip][key]
	same := ok && last.text == msg && (last.dropped.IsZero() || now.Sub(last.dropped) <= eventMemory)
	s.events[ip][key] = sentEvent{text: msg}
	s.mu.Unlock()
	if !same {
		s.Recorder.Event(svc, typ, reason, msg)
	}
}

// announcedOn lists the interfaces the announcer answers on, or the
// claimed ones while it is still probing.
func announcedOn(a layer2.Announcement, claimed []string) []string {
	var out []string
	for _, i := range a.Interfaces {
		if i.Phase == layer2.PhaseAnnounced {
			out = append(out, i.Name)
		}
	}
	if len(out) == 0 {
		out = slices.Clone(claimed)
	}
	return out
}

// answerableClaim is a claim with the layer 2 engine's state of it (zero
// when the engine has none yet).
type answerableClaim struct {
	layer2.Claim
	state layer2.Announcement
}

// answerable is claims without those this node cannot answer for: every
// interface of the claim is down, and cut off from the LAN it may be the
// only one that thinks it owns the IP. Neither its status nor its
// reachability check may say it answers; the node that does writes it.
func (s *Syncer) answerable(claims []layer2.Claim) []answerableClaim {
	state := map[netip.Addr]layer2.Announcement{}
	for _, a := range s.Announcer.State() {
		state[a.IP] = a
	}
	out := make([]answerableClaim, 0, len(claims))
	for _, c := range claims {
		a, known := state[c.IP]
		if known && !canAnswer(a) {
			continue
		}
		out = append(out, answerableClaim{Claim: c, state: a})
	}
	return out
}

// canAnswer reports whether an announcement has an interface that is up
// (or not known yet: a claim just made).
func canAnswer(a layer2.Announcement) bool {
	if len(a.Interfaces) == 0 {
		return true
	}
	return slices.ContainsFunc(a.Interfaces, func(i layer2.InterfaceState) bool { return i.Error != layer2.ErrorLinkDown })
}

func conflictOf(a layer2.Announcement) *v1beta1.AddressConflict {
	for _, i := range a.Interfaces {
		if i.Phase == layer2.PhaseConflict && i.Conflict != nil {
			return &v1beta1.AddressConflict{MAC: i.Conflict.MAC.String(), Interface: i.Name, DetectedAt: metav1.NewTime(i.Conflict.At.Truncate(1e9))}
		}
	}
	return nil
}
