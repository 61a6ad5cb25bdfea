package bgpsync

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/reach"
)

var (
	now     = time.Date(2026, 12, 6, 12, 0, 0, 500, time.UTC)
	earlier = metav1.NewTime(now.Add(-time.Minute).Truncate(time.Second))
	refused = reach.Verdict{Status: metav1.ConditionFalse, Reason: reach.ReasonNotAnswering, Message: "203.0.113.1 does not answer ... on tcp/80: connection refused"}
	timeout = reach.Verdict{Status: metav1.ConditionFalse, Reason: reach.ReasonNotAnswering, Message: "203.0.113.1 does not answer ... on tcp/80: no answer (timed out)"}
	answers = reach.Verdict{Status: metav1.ConditionTrue, Reason: reach.ReasonAnswering, Message: "203.0.113.1 answers on tcp/80"}
	unknown = reach.Verdict{Status: metav1.ConditionUnknown, Reason: reach.ReasonNotChecked, Message: "203.0.113.1 has no port this node can check"}
)

func TestEntryFor(t *testing.T) {
	prev := &v1beta1.NodeNotAnswering{Node: "node1", Reason: reach.ReasonNotAnswering, Message: refused.Message, Since: earlier}
	for _, tc := range []struct {
		name string
		v    reach.Verdict
		ok   bool
		prev *v1beta1.NodeNotAnswering
		want *v1beta1.NodeNotAnswering
	}{
		{name: "no verdict yet: no entry", v: refused, ok: false},
		{name: "answering: no entry", v: answers, ok: true, prev: prev},
		{name: "nothing to check: no entry", v: unknown, ok: true},
		{name: "not answering: an entry since now (whole seconds)", v: refused, ok: true,
			want: &v1beta1.NodeNotAnswering{Node: "node1", Reason: reach.ReasonNotAnswering, Message: refused.Message, Since: metav1.NewTime(now.Truncate(time.Second))}},
		{name: "still not answering, another way: message changes, since stays", v: timeout, ok: true, prev: prev,
			want: &v1beta1.NodeNotAnswering{Node: "node1", Reason: reach.ReasonNotAnswering, Message: timeout.Message, Since: earlier}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EntryFor("node1", tc.v, tc.ok, tc.prev, now)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("EntryFor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReachWrites(t *testing.T) {
	ip1, ip2 := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")
	web := types.NamespacedName{Namespace: "default", Name: "web"}
	api := types.NamespacedName{Namespace: "prod", Name: "api"}
	status := func(svc types.NamespacedName, ip netip.Addr, name string, entries ...v1beta1.NodeNotAnswering) *v1beta1.ServiceBGPStatus {
		return &v1beta1.ServiceBGPStatus{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: name},
			Status: v1beta1.ServiceBGPStatusStatus{ServiceName: svc.Name, IP: ip.String(), NotAnswering: entries}}
	}
	mine := v1beta1.NodeNotAnswering{Node: "node1", Reason: reach.ReasonNotAnswering, Message: refused.Message, Since: earlier}
	theirs := v1beta1.NodeNotAnswering{Node: "node2", Reason: reach.ReasonNotAnswering, Message: refused.Message, Since: earlier}
	newEntry := func(v reach.Verdict) *v1beta1.NodeNotAnswering {
		return &v1beta1.NodeNotAnswering{Node: "node1", Reason: v.Reason, Message: v.Message, Since: metav1.NewTime(now.Truncate(time.Second))}
	}
	type vk struct {
		svc types.NamespacedName
		ip  netip.Addr
	}
	for _, tc := range []struct {
		name     string
		targets  []reach.Target
		verdicts map[vk]reach.Verdict
		existing []*v1beta1.ServiceBGPStatus
		want     []ReachWrite
	}{
		{name: "everything answers, no object: nothing to write",
			targets:  []reach.Target{{IP: ip1, Services: []types.NamespacedName{web}}, {IP: ip2, Services: []types.NamespacedName{api}}},
			verdicts: map[vk]reach.Verdict{{web, ip1}: answers, {api, ip2}: answers}},
		{name: "stops answering: this node's entry, in the object named like the ServiceL2Status",
			targets:  []reach.Target{{IP: ip1, Services: []types.NamespacedName{web}}, {IP: ip2, Services: []types.NamespacedName{api}}},
			verdicts: map[vk]reach.Verdict{{web, ip1}: answers, {api, ip2}: refused},
			want:     []ReachWrite{{Service: api, IP: ip2, Name: "api.2001-0db8-0000-0000-0000-0000-0000-0001", Entry: newEntry(refused)}}},
		{name: "still not answering the same way: nothing to write (another node's entry is not ours)",
			targets:  []reach.Target{{IP: ip1, Services: []types.NamespacedName{web}}},
			verdicts: map[vk]reach.Verdict{{web, ip1}: refused},
			existing: []*v1beta1.ServiceBGPStatus{status(web, ip1, "web.203.0.113.1", theirs, mine)}},
		{name: "answers again: this node's entry goes",
			targets:  []reach.Target{{IP: ip1, Services: []types.NamespacedName{web}}},
			verdicts: map[vk]reach.Verdict{{web, ip1}: answers},
			existing: []*v1beta1.ServiceBGPStatus{status(web, ip1, "web.203.0.113.1", theirs, mine)},
			want:     []ReachWrite{{Service: web, IP: ip1, Name: "web.203.0.113.1"}}},
		{name: "another node's failure is left to it",
			targets:  []reach.Target{{IP: ip1, Services: []types.NamespacedName{web}}},
			verdicts: map[vk]reach.Verdict{{web, ip1}: answers},
			existing: []*v1beta1.ServiceBGPStatus{status(web, ip1, "web.203.0.113.1", theirs)}},
		{name: "no longer advertised here (withdrawn, or not known after a restart): this node's entry goes",
			existing: []*v1beta1.ServiceBGPStatus{status(web, ip1, "web.203.0.113.1", mine), status(api, ip2, "api.x", theirs)},
			want:     []ReachWrite{{Service: web, IP: ip1, Name: "web.203.0.113.1"}}},
		{name: "no verdict yet: no entry written, none removed before the check says so",
			targets: []reach.Target{{IP: ip1, Services: []types.NamespacedName{web}}}},
		{name: "a shared IP: one object per Service",
			targets:  []reach.Target{{IP: ip1, Services: []types.NamespacedName{web, {Namespace: "default", Name: "dns"}}}},
			verdicts: map[vk]reach.Verdict{{web, ip1}: refused, {types.NamespacedName{Namespace: "default", Name: "dns"}, ip1}: answers},
			want:     []ReachWrite{{Service: web, IP: ip1, Name: "web.203.0.113.1", Entry: newEntry(refused)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verdict := func(svc types.NamespacedName, ip netip.Addr) (reach.Verdict, bool) {
				v, ok := tc.verdicts[vk{svc, ip}]
				return v, ok
			}
			got := ReachWrites("node1", tc.targets, verdict, tc.existing, now)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReachWrites =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestLive(t *testing.T) {
	entry := func(n string) v1beta1.NodeNotAnswering {
		return v1beta1.NodeNotAnswering{Node: n, Reason: reach.ReasonNotAnswering}
	}
	o := &v1beta1.ServiceBGPStatus{Status: v1beta1.ServiceBGPStatusStatus{NotAnswering: []v1beta1.NodeNotAnswering{entry("node1"), entry("node2")}}}
	for _, tc := range []struct {
		name    string
		alive   []string
		kept    []v1beta1.NodeNotAnswering
		changed bool
	}{
		{"every node alive", []string{"node1", "node2", "node3"}, o.Status.NotAnswering, false},
		{"node2 dead: its entry goes", []string{"node1", "node3"}, []v1beta1.NodeNotAnswering{entry("node1")}, true},
		{"both dead: nothing left", []string{"node3"}, nil, true},
		{"peers not heard yet: nothing dropped", nil, o.Status.NotAnswering, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, changed := Live(o, tc.alive)
			if !reflect.DeepEqual(kept, tc.kept) || changed != tc.changed {
				t.Errorf("Live = %+v, %v; want %+v, %v", kept, changed, tc.kept, tc.changed)
			}
		})
	}
}
