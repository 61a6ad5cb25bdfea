package l2sync

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/reach"
)

func TestDecideIP(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.7")
	ip6 := netip.MustParseAddr("2001:db8::7")
	web, api := types.NamespacedName{Namespace: "ns", Name: "web"}, types.NamespacedName{Namespace: "ns", Name: "api"}
	now := metav1.NewTime(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	claimed := now.Add(-90*time.Second + 300*time.Millisecond)
	claimedSec := metav1.NewTime(claimed.Truncate(time.Second))
	older := metav1.NewTime(now.Add(-time.Hour))
	mine := &l2plan.Owner{Node: "n1", Pool: "l2", Services: []types.NamespacedName{web}}
	theirs := &l2plan.Owner{Node: "n2", Pool: "l2", Services: []types.NamespacedName{web}}
	shared := &l2plan.Owner{Node: "n1", Pool: "l2", Services: []types.NamespacedName{api, web}}
	claim := &answerableClaim{Claim: layer2.Claim{IP: ip, Interfaces: []string{"eth0"}},
		state: layer2.Announcement{IP: ip, Interfaces: []layer2.InterfaceState{{Name: "eth0", Phase: layer2.PhaseAnnounced}}}}
	probing := &answerableClaim{Claim: layer2.Claim{IP: ip, Interfaces: []string{"eth0", "eth1"}, Probe: true}}
	conflictAt := now.Add(-5*time.Second + 400*time.Millisecond)
	conflicted := &answerableClaim{Claim: layer2.Claim{IP: ip, Interfaces: []string{"eth0"}},
		state: layer2.Announcement{IP: ip, Interfaces: []layer2.InterfaceState{{Name: "eth0", Phase: layer2.PhaseConflict,
			Conflict: &layer2.Conflict{IP: ip, Interface: "eth0", MAC: []byte{2, 0, 0, 0, 0, 9}, At: conflictAt}}}}}
	unannounced := &l2plan.Unannounced{Reason: "no endpoints", Pool: "l2", Services: []types.NamespacedName{web}}
	obj := func(svc types.NamespacedName, st v1beta1.ServiceL2StatusStatus) *v1beta1.ServiceL2Status {
		return &v1beta1.ServiceL2Status{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: StatusName(svc.Name, netip.MustParseAddr(st.IP))}, Status: st}
	}
	announced := func(svc types.NamespacedName, since metav1.Time) v1beta1.ServiceL2StatusStatus {
		return v1beta1.ServiceL2StatusStatus{ServiceName: svc.Name, IP: ip.String(), Node: "n1", Interfaces: []string{"eth0"}, Since: &since}
	}
	webKey, apiKey := "ns/"+StatusName("web", ip), "ns/"+StatusName("api", ip)
	current := obj(web, announced(web, older))
	stale := obj(web, v1beta1.ServiceL2StatusStatus{ServiceName: "web", IP: ip.String(), Node: "n2", Interfaces: []string{"eth9"}, Since: &older})
	elsewhere := obj(types.NamespacedName{Namespace: "ns", Name: "old"}, v1beta1.ServiceL2StatusStatus{ServiceName: "old", IP: ip6.String(), Reason: "edited"})
	elsewhere.Name = StatusName("old", ip) // named for ip, its status edited to name another IP
	byKey := func(objs ...*v1beta1.ServiceL2Status) map[string]*v1beta1.ServiceL2Status {
		m := map[string]*v1beta1.ServiceL2Status{}
		for _, o := range objs {
			m[o.Namespace+"/"+o.Name] = o
		}
		return m
	}
	verdict := reach.Verdict{Status: metav1.ConditionTrue, Reason: "Answering", Message: "tcp/80 answers"}

	tests := []struct {
		name string
		in   ipInputs
		want ipDecision
	}{{
		name: "claimed, no object yet: created, since when this node claimed it",
		in:   ipInputs{Owner: mine, Claim: claim, Since: claimed},
		want: ipDecision{Want: []string{webKey}, Puts: []statusPut{{Service: web, Name: StatusName("web", ip), Status: announced(web, claimedSec)}}},
	}, {
		name: "claimed, object as it should be: kept, nothing written",
		in:   ipInputs{Owner: mine, Claim: claim, Since: claimed, Existing: byKey(current)},
		want: ipDecision{Want: []string{webKey}},
	}, {
		name: "taken over from another node: rewritten with this node's since",
		in:   ipInputs{Owner: mine, Claim: claim, Since: claimed, Existing: byKey(stale)},
		want: ipDecision{Want: []string{webKey}, Puts: []statusPut{{Service: web, Name: StatusName("web", ip), Status: announced(web, claimedSec), Current: stale}}},
	}, {
		name: "still probing: the claimed interfaces",
		in:   ipInputs{Owner: mine, Claim: probing, Since: claimed},
		want: ipDecision{Want: []string{webKey}, Puts: []statusPut{{Service: web, Name: StatusName("web", ip), Status: v1beta1.ServiceL2StatusStatus{
			ServiceName: "web", IP: ip.String(), Node: "n1", Interfaces: []string{"eth0", "eth1"}, Since: &claimedSec}}}},
	}, {
		name: "conflict: reported with the other host's MAC",
		in:   ipInputs{Owner: mine, Claim: conflicted, Since: claimed, Existing: byKey(current)},
		want: ipDecision{Want: []string{webKey}, Puts: []statusPut{{Service: web, Name: StatusName("web", ip), Current: current, Status: v1beta1.ServiceL2StatusStatus{
			ServiceName: "web", IP: ip.String(), Node: "n1", Interfaces: []string{"eth0"}, Since: &older,
			Conflict: &v1beta1.AddressConflict{MAC: "02:00:00:00:00:09", Interface: "eth0", DetectedAt: metav1.NewTime(conflictAt.Truncate(time.Second))}}}}},
	}, {
		name: "shared IP: one status per Service, with the reachability verdict",
		in:   ipInputs{Owner: shared, Claim: claim, Since: claimed, Existing: byKey(current), Verdicts: map[types.NamespacedName]reach.Verdict{web: verdict}},
		want: ipDecision{Want: []string{apiKey, webKey}, Puts: []statusPut{
			{Service: api, Name: StatusName("api", ip), Status: announced(api, claimedSec)},
			{Service: web, Name: StatusName("web", ip), Current: current, Status: func() v1beta1.ServiceL2StatusStatus {
				st := announced(web, older)
				st.Conditions = reach.Condition(nil, verdict, now)
				return st
			}()},
		}},
	}, {
		name: "owned here but cannot answer (no answerable claim): left to the node that does",
		in:   ipInputs{Owner: mine, Writer: true, Since: claimed, Existing: byKey(stale)},
	}, {
		name: "owned by another node: its to write, even for the status writer",
		in:   ipInputs{Owner: theirs, Writer: true, Existing: byKey(stale)},
	}, {
		name: "nobody may announce it, status writer: the reason",
		in:   ipInputs{Unannounced: unannounced, Writer: true, Existing: byKey(current)},
		want: ipDecision{Want: []string{webKey}, Puts: []statusPut{{Service: web, Name: StatusName("web", ip), Current: current,
			Status: v1beta1.ServiceL2StatusStatus{ServiceName: "web", IP: ip.String(), Reason: "no endpoints"}}}},
	}, {
		name: "nobody may announce it, not the status writer: nothing",
		in:   ipInputs{Unannounced: unannounced, Existing: byKey(current)},
	}, {
		name: "no longer a layer 2 IP, status writer: its objects deleted, not one naming another IP",
		in:   ipInputs{Writer: true, Existing: byKey(stale, obj(api, announced(api, older)), elsewhere)},
		want: ipDecision{Deletes: []*v1beta1.ServiceL2Status{obj(api, announced(api, older)), stale}},
	}, {
		name: "no longer a layer 2 IP, not the status writer: nothing",
		in:   ipInputs{Existing: byKey(stale)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.IP, tt.in.Node, tt.in.Now = ip, "n1", now
			got := decideIP(tt.in)
			sortDeletes(got.Deletes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decideIP:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func sortDeletes(d []*v1beta1.ServiceL2Status) {
	slices.SortFunc(d, func(a, b *v1beta1.ServiceL2Status) int { return strings.Compare(a.Name, b.Name) })
}
