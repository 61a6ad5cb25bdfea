package l2sync

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/reach"
)

// writeStatus writes the ServiceL2Status of the IPs this node announces,
// and, when this node is the status writer, of the IPs nobody announces,
// deleting objects of IPs layer 2 no longer handles.
func (s *Syncer) writeStatus(ctx context.Context, plan l2plan.Plan, claims []layer2.Claim,
	existing map[string]*v1beta1.ServiceL2Status, writer bool) error {
	want := map[string]bool{}
	var errs []error
	for _, c := range s.answerable(claims) {
		o := plan.Owners[c.IP]
		for _, svc := range o.Services {
			name := StatusName(svc.Name, c.IP)
			want[svc.Namespace+"/"+name] = true
			st := v1beta1.ServiceL2StatusStatus{
				ServiceName: svc.Name, IP: c.IP.String(), Node: s.Node,
				Interfaces: announcedOn(c.state, c.Interfaces),
				Since:      s.sinceOf(c.IP, existing[svc.Namespace+"/"+name]),
				Conflict:   conflictOf(c.state),
			}
			if s.Reach != nil {
				if v, ok := s.Reach(svc, c.IP); ok {
					var prev []metav1.Condition
					if e := existing[svc.Namespace+"/"+name]; e != nil {
						prev = e.Status.Conditions
					}
					st.Conditions = reach.Condition(prev, v, metav1.Now())
				}
			}
			errs = append(errs, s.put(ctx, svc, name, st, existing))
		}
	}
	if writer {
		for ip, u := range plan.Unannounced {
			for _, svc := range u.Services {
				name := StatusName(svc.Name, ip)
				want[svc.Namespace+"/"+name] = true
				st := v1beta1.ServiceL2StatusStatus{ServiceName: svc.Name, IP: ip.String(), Reason: u.Reason}
				errs = append(errs, s.put(ctx, svc, name, st, existing))
			}
		}
		for key, e := range existing {
			ip, err := netip.ParseAddr(e.Status.IP)
			_, owned := plan.Owners[ip]
			_, unannounced := plan.Unannounced[ip]
			if want[key] || err == nil && (owned || unannounced) {
				continue
			}
			if err := s.Client.Delete(ctx, e); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", key, err))
			}
		}
	}
	s.forgetEvents(want, time.Now())
	return errors.Join(errs...)
}

// eventMemory is how long the text of the last event about a status this
// node no longer writes is kept. An address that comes back sooner (its
// claim flapped while the speakers' views of each other did) is not news;
// one that comes back later is reported again, and the memory does not
// keep an entry per Service IP ever announced here.
const eventMemory = time.Minute

// sentEvent is the last event sent about one status object.
type sentEvent struct {
	text   string
	wanted time.Time // when this node last wrote (or kept) that status
}

// forgetEvents marks the statuses this node writes now and drops the
// memory of those it has not written for eventMemory.
func (s *Syncer) forgetEvents(want map[string]bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, e := range s.events {
		switch {
		case want[key]:
			e.wanted = now
			s.events[key] = e
		case now.Sub(e.wanted) > eventMemory:
			delete(s.events, key)
		}
	}
}

// put creates or updates one status object when it differs, and sends an
// event on the Service when the announcing node or the reason changes.
func (s *Syncer) put(ctx context.Context, svc types.NamespacedName, name string,
	st v1beta1.ServiceL2StatusStatus, existing map[string]*v1beta1.ServiceL2Status) error {
	cur := existing[svc.Namespace+"/"+name]
	if cur != nil && equality.Semantic.DeepEqual(cur.Status, st) {
		return nil
	}
	var owner corev1.Service
	if err := s.Client.Get(ctx, svc, &owner); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted: garbage collection removes its statuses
		}
		return fmt.Errorf("get service %s: %w", svc, err)
	}
	if cur == nil {
		obj := &v1beta1.ServiceL2Status{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: svc.Namespace, Name: name,
				Labels: map[string]string{"ironlb.io/service-name": svc.Name},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Service", Name: owner.Name, UID: owner.UID,
				}},
			},
			Status: st,
		}
		// AlreadyExists means the cache has not caught up with an earlier
		// write: the error requeues, and the next pass updates it.
		if err := s.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("create status %s/%s: %w", svc.Namespace, name, err)
		}
	} else {
		upd := cur.DeepCopy()
		upd.Status = st
		if err := s.Client.Update(ctx, upd); err != nil {
			return fmt.Errorf("update status %s/%s: %w", svc.Namespace, name, err)
		}
	}
	s.event(&owner, name, st)
	return nil
}

// event reports a change of announcing node, conflict or reason, once
// while this node writes the status (see eventMemory): two speakers that
// briefly both claim an address (views converging) overwrite each other's
// status a few times, and each tells it once.
func (s *Syncer) event(svc *corev1.Service, name string, st v1beta1.ServiceL2StatusStatus) {
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
	s.mu.Lock()
	if s.events == nil {
		s.events = map[string]sentEvent{}
	}
	key := svc.Namespace + "/" + name
	same := s.events[key].text == msg
	s.events[key] = sentEvent{text: msg, wanted: time.Now()}
	s.mu.Unlock()
	if !same {
		s.Recorder.Event(svc, typ, reason, msg)
	}
}

func (s *Syncer) sinceOf(ip netip.Addr, cur *v1beta1.ServiceL2Status) *metav1.Time {
	if cur != nil && cur.Status.Node == s.Node && cur.Status.Since != nil {
		return cur.Status.Since
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := metav1.NewTime(s.since[ip].Truncate(1e9))
	return &t
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
