package l2sync

import (
	"net/netip"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/reach"
)

// ipInputs is everything the ServiceL2Status objects of one IP depend on,
// as this node sees it.
type ipInputs struct {
	IP     netip.Addr
	Node   string // this node
	Writer bool   // this node writes the statuses no node owns (StatusWriter)
	// Owner is the plan's owner of the IP, Unannounced its reason when
	// nobody may announce it; both nil when layer 2 no longer handles it.
	Owner       *l2plan.Owner
	Unannounced *l2plan.Unannounced
	// Claim is this node's claim of the IP when it can answer for it.
	Claim *answerableClaim
	// Since is when this node claimed the IP.
	Since time.Time
	// Verdicts are the reachability check's, per Service (absent: none).
	Verdicts map[types.NamespacedName]reach.Verdict
	// Existing are the status objects by namespace/name: those whose
	// status names this IP and those named for it.
	Existing map[string]*v1beta1.ServiceL2Status
	Now      metav1.Time
}

// statusPut is one status object to create (Current nil) or update.
type statusPut struct {
	Service types.NamespacedName
	Name    string
	Status  v1beta1.ServiceL2StatusStatus
	Current *v1beta1.ServiceL2Status
}

// ipDecision is what this node does about the statuses of one IP.
type ipDecision struct {
	Want    []string // namespace/name of the statuses this node writes (or keeps)
	Puts    []statusPut
	Deletes []*v1beta1.ServiceL2Status
}

// decideIP says which statuses of one IP this node writes and how they
// differ from the objects: the owner writes those of the IPs it claims and
// can answer for, the status writer those of the IPs nobody may announce,
// and the status writer deletes the objects of an IP layer 2 no longer
// handles. An IP owned by a node that cannot answer for it is left to
// whichever node does.
func decideIP(in ipInputs) ipDecision {
	var d ipDecision
	put := func(svc types.NamespacedName, st v1beta1.ServiceL2StatusStatus) {
		name := StatusName(svc.Name, in.IP)
		key := svc.Namespace + "/" + name
		d.Want = append(d.Want, key)
		cur := in.Existing[key]
		if cur != nil && equality.Semantic.DeepEqual(cur.Status, st) {
			return
		}
		d.Puts = append(d.Puts, statusPut{Service: svc, Name: name, Status: st, Current: cur})
	}
	switch {
	case in.Claim != nil && in.Owner != nil && in.Owner.Node == in.Node:
		for _, svc := range in.Owner.Services {
			cur := in.Existing[svc.Namespace+"/"+StatusName(svc.Name, in.IP)]
			st := v1beta1.ServiceL2StatusStatus{
				ServiceName: svc.Name, IP: in.IP.String(), Node: in.Node,
				Interfaces: announcedOn(in.Claim.state, in.Claim.Interfaces),
				Since:      since(in.Node, in.Since, cur),
				Conflict:   conflictOf(in.Claim.state),
			}
			if v, ok := in.Verdicts[svc]; ok {
				var prev []metav1.Condition
				if cur != nil {
					prev = cur.Status.Conditions
				}
				st.Conditions = reach.Condition(prev, v, in.Now)
			}
			put(svc, st)
		}
	case in.Writer && in.Unannounced != nil:
		for _, svc := range in.Unannounced.Services {
			put(svc, v1beta1.ServiceL2StatusStatus{ServiceName: svc.Name, IP: in.IP.String(), Reason: in.Unannounced.Reason})
		}
	case in.Writer && in.Owner == nil:
		for _, e := range in.Existing {
			if ip, err := netip.ParseAddr(e.Status.IP); err == nil && ip == in.IP {
				d.Deletes = append(d.Deletes, e)
			}
		}
	}
	return d
}

// since keeps the time an announcement began while this node makes it,
// and is the time this node claimed the IP (whole seconds, as the API
// server stores it) when it takes the IP over.
func since(node string, claimed time.Time, cur *v1beta1.ServiceL2Status) *metav1.Time {
	if cur != nil && cur.Status.Node == node && cur.Status.Since != nil {
		return cur.Status.Since
	}
	t := metav1.NewTime(claimed.Truncate(time.Second))
	return &t
}
