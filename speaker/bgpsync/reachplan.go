package bgpsync

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2sync"
	"github.com/ironlb/ironlb/speaker/reach"
)

// ReachWrite is one change of this node's entry in one ServiceBGPStatus.
type ReachWrite struct {
	Service types.NamespacedName
	IP      netip.Addr
	Name    string // of the ServiceBGPStatus
	// Entry is this node's entry; nil removes it.
	Entry *v1beta1.NodeNotAnswering
}

// EntryFor is what this node's entry says for a Service on an address it
// advertises, given the check's verdict (ok false: none yet) and the entry
// it wrote before (nil: none): an entry only while the address does not
// answer; Since stays while it keeps not answering.
func EntryFor(node string, v reach.Verdict, ok bool, prev *v1beta1.NodeNotAnswering, now time.Time) *v1beta1.NodeNotAnswering {
	if !ok || v.Status != metav1.ConditionFalse {
		return nil
	}
	e := &v1beta1.NodeNotAnswering{Node: node, Reason: v.Reason, Message: v.Message, Since: metav1.NewTime(now.Truncate(time.Second))}
	if prev != nil {
		e.Since = prev.Since
	}
	return e
}

// ReachWrites are the writes that bring this node's entries in line with
// the check: one per Service IP this node advertises whose entry should
// change, and a removal for every entry of this node on an IP it no longer
// advertises (it stopped, or it restarted and no longer knows). Nothing
// for entries that are already right: a round without a change writes
// nothing. Sorted by namespace and name.
func ReachWrites(node string, targets []reach.Target, verdict func(types.NamespacedName, netip.Addr) (reach.Verdict, bool),
	existing []*v1beta1.ServiceBGPStatus, now time.Time) []ReachWrite {
	mine := map[types.NamespacedName]*v1beta1.NodeNotAnswering{}
	for _, o := range existing {
		for i := range o.Status.NotAnswering {
			if o.Status.NotAnswering[i].Node == node {
				mine[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}] = &o.Status.NotAnswering[i]
			}
		}
	}
	var out []ReachWrite
	seen := map[types.NamespacedName]bool{}
	for _, t := range targets {
		for _, svc := range t.Services {
			key := types.NamespacedName{Namespace: svc.Namespace, Name: l2sync.StatusName(svc.Name, t.IP)} // named like the ServiceL2Status
			if seen[key] {
				continue
			}
			seen[key] = true
			v, ok := verdict(svc, t.IP)
			prev := mine[key]
			want := EntryFor(node, v, ok, prev, now)
			if sameEntry(prev, want) {
				continue
			}
			out = append(out, ReachWrite{Service: svc, IP: t.IP, Name: key.Name, Entry: want})
		}
	}
	for _, o := range existing {
		key := types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
		if seen[key] || mine[key] == nil {
			continue
		}
		ip, _ := netip.ParseAddr(o.Status.IP) // written by a speaker: valid
		out = append(out, ReachWrite{Service: types.NamespacedName{Namespace: o.Namespace, Name: o.Status.ServiceName}, IP: ip, Name: o.Name})
	}
	slices.SortFunc(out, func(a, b ReachWrite) int {
		if c := strings.Compare(a.Service.Namespace, b.Service.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func sameEntry(a, b *v1beta1.NodeNotAnswering) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Reason == b.Reason && a.Message == b.Message && a.Since.Equal(&b.Since)
}

// Live is the entries of a ServiceBGPStatus whose nodes are alive, and
// whether any was not: a node that died while its check failed cannot
// remove its own entry, so the status writer (l2sync.StatusWriter) drops
// it. alive empty means not known (the speaker has not heard its peers
// yet): nothing is dropped.
func Live(o *v1beta1.ServiceBGPStatus, alive []string) ([]v1beta1.NodeNotAnswering, bool) {
	if len(alive) == 0 {
		return o.Status.NotAnswering, false
	}
	var kept []v1beta1.NodeNotAnswering
	for _, e := range o.Status.NotAnswering {
		if slices.Contains(alive, e.Node) {
			kept = append(kept, e)
		}
	}
	return kept, len(kept) != len(o.Status.NotAnswering)
}
