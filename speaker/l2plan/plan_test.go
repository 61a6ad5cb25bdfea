package l2plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/readiness"
)

func compile(t *testing.T, advs ...v1beta1.L2Advertisement) *config.Config {
	t.Helper()
	cfg, err := config.Compile(config.Resources{
		Pools: []v1beta1.IPAddressPool{
			{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/24", "2001:db8:300::/120"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"198.51.100.0/24"}}},
		},
		L2Advertisements: advs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func adv(name string, nodeLabels map[string]string, ifaces ...string) v1beta1.L2Advertisement {
	a := v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"l2"}, Interfaces: ifaces}}
	if nodeLabels != nil {
		a.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: nodeLabels}}
	}
	return a
}

func svc(name string, local bool, endpoints map[string]int, ips ...string) lbstate.Service {
	s := lbstate.Service{Key: types.NamespacedName{Namespace: "ns", Name: name}, Pool: "l2", Local: local, Endpoints: readiness.CountsOf(endpoints)}
	for _, ip := range ips {
		s.IPs = append(s.IPs, netip.MustParseAddr(ip))
	}
	return s
}

func nodes(names ...string) []Node {
	var out []Node
	for _, n := range names {
		out = append(out, Node{Name: n, Labels: map[string]string{"name": n}, Weight: 1, Usable: true})
	}
	return out
}

// cordoned marks the named nodes cordoned.
func cordoned(ns []Node, names ...string) []Node {
	for i := range ns {
		ns[i].Cordoned = ns[i].Cordoned || slices.Contains(names, ns[i].Name)
	}
	return ns
}

var vip = netip.MustParseAddr("203.0.113.10")

func TestEligibility(t *testing.T) {
	all := map[string]int{"n1": 1}
	tests := []struct {
		name      string
		advs      []v1beta1.L2Advertisement
		svcs      []lbstate.Service
		nodes     []Node
		alive     []string
		wantOwner []string // acceptable owners; nil: unannounced
		why       string   // substring of the reason when unannounced
	}{
		{"any live node", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")}, nodes("n1", "n2"), []string{"n1", "n2"}, []string{"n1", "n2"}, ""},
		{"node selector", []v1beta1.L2Advertisement{adv("a", map[string]string{"name": "n2"})}, []lbstate.Service{svc("s", false, all, "203.0.113.10")}, nodes("n1", "n2"), []string{"n1", "n2"}, []string{"n2"}, ""},
		{"dead speaker", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")}, nodes("n1", "n2"), []string{"n1"}, []string{"n1"}, ""},
		{"no live speaker", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")}, nodes("n1"), nil, nil, "speaker not alive"},
		{"no endpoints", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, nil, "203.0.113.10")}, nodes("n1"), []string{"n1"}, nil, "no ready endpoint"},
		{"local endpoint only on n3", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", true, map[string]int{"n3": 2}, "203.0.113.10")}, nodes("n1", "n2", "n3"), []string{"n1", "n2", "n3"}, []string{"n3"}, ""},
		{"local endpoint on a dead node", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", true, map[string]int{"n3": 2}, "203.0.113.10")}, nodes("n1", "n3"), []string{"n1"}, nil, "1 speaker not alive"},
		{"unusable node", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")},
			[]Node{{Name: "n1", Usable: false, Why: "not Ready"}}, []string{"n1"}, nil, "not Ready"},
		// serviceSelectors: each advertisement covers the Services it
		// selects, here on different nodes.
		{"service selector: gold", []v1beta1.L2Advertisement{forTier(adv("g", map[string]string{"name": "n2"}), "gold"), forTier(adv("s", map[string]string{"name": "n1"}), "silver")},
			[]lbstate.Service{withTier(svc("s", false, all, "203.0.113.10"), "gold")}, nodes("n1", "n2"), []string{"n1", "n2"}, []string{"n2"}, ""},
		{"service selector: silver", []v1beta1.L2Advertisement{forTier(adv("g", map[string]string{"name": "n2"}), "gold"), forTier(adv("s", map[string]string{"name": "n1"}), "silver")},
			[]lbstate.Service{withTier(svc("s", false, all, "203.0.113.10"), "silver")}, nodes("n1", "n2"), []string{"n1", "n2"}, []string{"n1"}, ""},
		{"service selector: a shared IP goes with its selected Service", []v1beta1.L2Advertisement{forTier(adv("g", map[string]string{"name": "n2"}), "gold")},
			[]lbstate.Service{svc("s", false, all, "203.0.113.10"), withTier(svc("t", false, nil, "203.0.113.10"), "gold")}, nodes("n1", "n2"), []string{"n1", "n2"}, []string{"n2"}, ""},
		{"cordoned node passed over", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")},
			cordoned(nodes("n1", "n2"), "n1"), []string{"n1", "n2"}, []string{"n2"}, ""},
		{"only cordoned nodes still announce", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")},
			cordoned(nodes("n1", "n2"), "n1", "n2"), []string{"n1", "n2"}, []string{"n1", "n2"}, ""},
		{"cordoned node with the only local endpoint", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", true, map[string]int{"n1": 1}, "203.0.113.10")},
			cordoned(nodes("n1", "n2"), "n1"), []string{"n1", "n2"}, []string{"n1"}, ""},
		{"uncordoned node with a dead speaker", []v1beta1.L2Advertisement{adv("a", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.10")},
			cordoned(nodes("n1", "n2"), "n1"), []string{"n1"}, []string{"n1"}, ""},
		{"shared IP: Local service without local endpoint beside a Cluster one", []v1beta1.L2Advertisement{adv("a", nil)},
			[]lbstate.Service{svc("s", true, map[string]int{"n2": 1}, "203.0.113.10"), svc("t", false, all, "203.0.113.10")}, nodes("n1", "n2"), []string{"n1", "n2"}, []string{"n1", "n2"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(compile(t, tt.advs...), tt.svcs, tt.nodes, tt.alive)
			o, ok := p.Owners[vip]
			if tt.wantOwner == nil {
				if ok {
					t.Fatalf("announced by %s, want unannounced", o.Node)
				}
				if !strings.Contains(p.Unannounced[vip].Reason, tt.why) {
					t.Fatalf("reason %q, want it to mention %q", p.Unannounced[vip].Reason, tt.why)
				}
				return
			}
			if !ok {
				t.Fatalf("unannounced (%s), want one of %v", p.Unannounced[vip].Reason, tt.wantOwner)
			}
			found := false
			for _, w := range tt.wantOwner {
				found = found || o.Node == w
			}
			if !found {
				t.Fatalf("owner %s, want one of %v", o.Node, tt.wantOwner)
			}
		})
	}
}

func forTier(a v1beta1.L2Advertisement, tier string) v1beta1.L2Advertisement {
	a.Spec.ServiceSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": tier}}}
	return a
}

func withTier(s lbstate.Service, tier string) lbstate.Service {
	s.Labels = map[string]string{"tier": tier}
	return s
}

// A Service no advertisement of its pool selects is not layer 2's
// business, as a Service of a pool without any.
func TestUnselectedServicesAreNotLayer2(t *testing.T) {
	cfg := compile(t, forTier(adv("g", nil), "gold"))
	p := Compute(cfg, []lbstate.Service{svc("s", false, map[string]int{"n1": 1}, "203.0.113.10")}, nodes("n1"), []string{"n1"})
	if len(p.Owners) != 0 || len(p.Unannounced) != 0 {
		t.Fatalf("plan %+v, want nothing", p)
	}
}

func TestOtherPoolsAreNotLayer2(t *testing.T) {
	s := svc("s", false, map[string]int{"n1": 1}, "198.51.100.5")
	s.Pool = "bgp"
	p := Compute(compile(t, adv("a", nil)), []lbstate.Service{s}, nodes("n1"), []string{"n1"})
	if len(p.Owners)+len(p.Unannounced) != 0 {
		t.Fatalf("a pool without L2Advertisement got %+v", p)
	}
}

func TestInterfacesAreTheUnionOfSelectingAdvertisements(t *testing.T) {
	cfg := compile(t, adv("a", map[string]string{"name": "n1"}, "eth0"), adv("b", nil, "bond*"))
	p := Compute(cfg, []lbstate.Service{svc("s", false, map[string]int{"n1": 1}, "203.0.113.10")}, nodes("n1"), []string{"n1"})
	if got := fmt.Sprint(p.Owners[vip].Interfaces); got != "[bond* eth0]" {
		t.Fatalf("interfaces %s", got)
	}
	cfg = compile(t, adv("a", nil, "eth0"), adv("auto", nil))
	p = Compute(cfg, []lbstate.Service{svc("s", false, map[string]int{"n1": 1}, "203.0.113.10")}, nodes("n1"), []string{"n1"})
	if len(p.Owners[vip].Interfaces) != 0 {
		t.Fatalf("an advertisement without interfaces leaves the choice open, got %v", p.Owners[vip].Interfaces)
	}
}

func TestBalancedAndDeterministic(t *testing.T) {
	cfg := compile(t, adv("a", nil))
	var svcs []lbstate.Service
	for i := range 254 {
		svcs = append(svcs, svc(fmt.Sprintf("s%d", i), false, map[string]int{"n1": 1}, fmt.Sprintf("203.0.113.%d", i+1)))
	}
	for i := range 46 {
		svcs = append(svcs, svc(fmt.Sprintf("v6-%d", i), false, map[string]int{"n1": 1}, fmt.Sprintf("2001:db8:300::%x", i+1)))
	}
	ns := nodes("n1", "n2", "n3")
	p := Compute(cfg, svcs, ns, []string{"n1", "n2", "n3"})
	count := map[string]int{}
	for _, o := range p.Owners {
		count[o.Node]++
	}
	for n, c := range count {
		if c*100 > 40*len(svcs) {
			t.Errorf("%s owns %d of %d IPs (> 40%%)", n, c, len(svcs))
		}
	}
	// Reversed inputs, same answer.
	rev := make([]lbstate.Service, len(svcs))
	for i := range svcs {
		rev[len(svcs)-1-i] = svcs[i]
	}
	q := Compute(cfg, rev, []Node{ns[2], ns[0], ns[1]}, []string{"n3", "n2", "n1"})
	for ip, o := range p.Owners {
		if q.Owners[ip].Node != o.Node {
			t.Fatalf("%s: %s vs %s with reordered input", ip, o.Node, q.Owners[ip].Node)
		}
	}
}

func cordon(n *corev1.Node) *corev1.Node {
	n.Spec.Unschedulable = true
	return n
}

func TestNodeFrom(t *testing.T) {
	mk := func(labels, ann map[string]string, conds ...corev1.NodeCondition) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: labels, Annotations: ann}, Status: corev1.NodeStatus{Conditions: conds}}
	}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	tests := []struct {
		name   string
		node   *corev1.Node
		usable bool
		weight int
	}{
		{"ready", mk(nil, nil, ready), true, 1},
		{"weighted", mk(nil, map[string]string{AnnotationWeight: "3"}, ready), true, 3},
		{"bad weight ignored", mk(nil, map[string]string{AnnotationWeight: "-2"}, ready), true, 1},
		{"not ready", mk(nil, nil, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}), false, 1},
		{"no conditions", mk(nil, nil), false, 1},
		{"network unavailable", mk(nil, nil, ready, corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue}), false, 1},
		{"excluded", mk(map[string]string{LabelExclude: ""}, nil, ready), false, 1},
		{"drained", mk(map[string]string{LabelDrain: "true"}, nil, ready), false, 1},
		{"drain label false", mk(map[string]string{LabelDrain: "false"}, nil, ready), true, 1},
		{"cordoned is usable", cordon(mk(nil, nil, ready)), true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NodeFrom(tt.node)
			if n.Cordoned != tt.node.Spec.Unschedulable {
				t.Fatalf("cordoned=%v, spec.unschedulable=%v", n.Cordoned, tt.node.Spec.Unschedulable)
			}
			if n.Usable != tt.usable || n.Weight != tt.weight {
				t.Fatalf("got usable=%v weight=%d (%s)", n.Usable, n.Weight, n.Why)
			}
			if !n.Usable && n.Why == "" {
				t.Fatal("unusable without a reason")
			}
		})
	}
}

func TestParseWeight(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  bool
	}{
		{"", 1, false},
		{"1", 1, false},
		{"3", 3, false},
		{"1000", 1000, false},
		{"1001", 1, true},
		{"0", 1, true},
		{"-2", 1, true},
		{"heavy", 1, true},
		{"2.5", 1, true},
		{"9223372036854775807", 1, true}, // would overflow the sum of weights
		{" 3", 1, true},
	} {
		got, err := ParseWeight(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseWeight(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), AnnotationWeight) {
			t.Errorf("ParseWeight(%q): error %q does not name the annotation", tc.in, err)
		}
	}
}
