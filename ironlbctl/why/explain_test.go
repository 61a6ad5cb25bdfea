package why

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	fx "github.com/ironlb/ironlb/ironlbctl/internal/fixture"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// base: pool "web" (layer 2, 4 addresses), pool "bgp" (BGP to peer tor),
// pool "quiet" (no advertisement, autoAssign false), nodes n1 n2.
func base() *snapshot.Snapshot {
	no := false
	quiet := fx.Pool("quiet", "192.0.2.0/28")
	quiet.Spec.AutoAssign = &no
	return &snapshot.Snapshot{
		Resources: config.Resources{
			Pools:             []v1beta1.IPAddressPool{fx.Pool("web", "203.0.113.0/30"), fx.Pool("bgp", "198.51.100.0/24"), quiet},
			L2Advertisements:  []v1beta1.L2Advertisement{fx.L2("web", "web")},
			BGPAdvertisements: []v1beta1.BGPAdvertisement{fx.BGPAdv("bgp", "bgp")},
			BGPPeers:          []v1beta1.BGPPeer{fx.Peer("tor", "192.0.2.254")},
		},
		Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "default"}}},
		Nodes:      []corev1.Node{fx.Node("n1", nil), fx.Node("n2", nil)},
	}
}

type change func(*snapshot.Snapshot)

func svcs(ss ...corev1.Service) change {
	return func(s *snapshot.Snapshot) { s.Services = append(s.Services, ss...) }
}
func eps(es ...discoveryv1.EndpointSlice) change {
	return func(s *snapshot.Snapshot) { s.Endpoints = append(s.Endpoints, es...) }
}
func l2(st ...v1beta1.ServiceL2Status) change {
	return func(s *snapshot.Snapshot) { s.L2Statuses = append(s.L2Statuses, st...) }
}
func sessions(st ...v1beta1.BGPSessionStatus) change {
	return func(s *snapshot.Snapshot) { s.BGPSessions = append(s.BGPSessions, st...) }
}
func bgpReach(st ...v1beta1.ServiceBGPStatus) change {
	return func(s *snapshot.Snapshot) { s.BGPReach = append(s.BGPReach, st...) }
}
func nodes(ns ...corev1.Node) change { return func(s *snapshot.Snapshot) { s.Nodes = ns } }

func TestExplain(t *testing.T) {
	web := func(opts ...fx.SvcOpt) corev1.Service { return fx.Service("default", "web", 10, opts...) }
	ready := eps(fx.Endpoints("default", "web", "n1", "n2"))
	assigned := fx.Assigned("web", "203.0.113.1")
	tests := []struct {
		name    string
		opts    Options
		changes []change
		code    Code
		want    []string // substrings of the message and details
	}{
		{"not found", Options{}, nil, ServiceNotFound, []string{"default/web does not exist"}},
		{"not a LoadBalancer", Options{}, []change{svcs(web(fx.ClusterIP))}, NotLoadBalancer, []string{`spec.type "ClusterIP"`}},
		{"other class", Options{}, []change{svcs(web(fx.Class("example.com/other")))}, OtherClass, []string{`"example.com/other"`, `"ironlb.io/ironlb"`, "-lb-class"}},
		{"classless ignored", Options{IgnoreClassless: true}, []change{svcs(web())}, ClasslessIgnored, []string{"-ignore-classless"}},
		// An invalid pool sets aside only itself: the Service is served
		// by the valid pools, and the invalid pool is still reported.
		{"an unrelated invalid pool", Options{}, []change{svcs(web()), func(s *snapshot.Snapshot) {
			s.Resources.Pools = append(s.Resources.Pools, fx.Pool("broken", "not-an-address"))
		}}, AwaitingAddress, []string{`the allocator would assign`, `IPAddressPool "broken" is invalid`, "spec.addresses[0]"}},
		{"requested pool invalid", Options{}, []change{svcs(web(fx.Annotate("ironlb.io/address-pool", "broken"))), func(s *snapshot.Snapshot) {
			s.Resources.Pools = append(s.Resources.Pools, fx.Pool("broken", "not-an-address"))
		}}, PoolNotFound, []string{`"broken", which is invalid and not in use`, `IPAddressPool "broken": spec.addresses[0]`}},
		{"invalid request", Options{}, []change{svcs(web(fx.Annotate("ironlb.io/loadBalancerIPs", "garbage")))}, InvalidRequest, []string{"ironlb.io/loadBalancerIPs"}},
		{"requested pool missing", Options{}, []change{svcs(web(fx.Annotate("ironlb.io/address-pool", "nope")))}, PoolNotFound, []string{`"nope"`, "ironlb.io/address-pool"}},
		{"no pool matches: autoAssign false and namespace mismatch", Options{}, []change{svcs(web()), func(s *snapshot.Snapshot) {
			p := fx.Pool("team", "203.0.113.64/28")
			p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{Namespaces: []string{"team"}}
			no := false
			q := fx.Pool("quiet", "192.0.2.0/28")
			q.Spec.AutoAssign = &no
			s.Resources = config.Resources{Pools: []v1beta1.IPAddressPool{p, q}}
		}}, NoPoolMatches, []string{`IPAddressPool "team": spec.serviceAllocation.namespaces [team]`, `IPAddressPool "quiet": spec.autoAssign is false`}},
		{"no pool matches: service selector", Options{}, []change{svcs(web()), func(s *snapshot.Snapshot) {
			p := fx.Pool("team", "203.0.113.64/28")
			p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "front"}}}}
			s.Resources = config.Resources{Pools: []v1beta1.IPAddressPool{p}}
		}}, NoPoolMatches, []string{`IPAddressPool "team": spec.serviceAllocation.serviceSelectors`}},
		{"pool exhausted", Options{}, []change{svcs(web(fx.Annotate("ironlb.io/address-pool", "web")),
			fx.Service("default", "a", 1, fx.Assigned("web", "203.0.113.0")), fx.Service("default", "b", 2, fx.Assigned("web", "203.0.113.1")),
			fx.Service("default", "c", 3, fx.Assigned("web", "203.0.113.2")), fx.Service("default", "d", 4, fx.Assigned("web", "203.0.113.3")))},
			PoolExhausted, []string{`pool "web" exhausted`, `IPAddressPool "web" IPv4: 4 of 4 addresses assigned, 0 available`}},
		{"requested IP held", Options{}, []change{svcs(web(fx.Annotate("ironlb.io/loadBalancerIPs", "203.0.113.2")),
			fx.Service("other", "db", 1, fx.Assigned("web", "203.0.113.2")))}, IPInUse, []string{"203.0.113.2", "other/db", "annotation ironlb.io/loadBalancerIPs"}},
		{"requested IP held, MetalLB's older spelling named", Options{}, []change{svcs(web(fx.Annotate("metallb.universe.tf/loadBalancerIPs", "203.0.113.2")),
			fx.Service("other", "db", 1, fx.Assigned("web", "203.0.113.2")))}, IPInUse, []string{"203.0.113.2", "other/db", "annotation metallb.universe.tf/loadBalancerIPs"}},
		{"requested pool missing, MetalLB's older spelling named", Options{}, []change{svcs(web(fx.Annotate("metallb.universe.tf/address-pool", "nope")))},
			PoolNotFound, []string{`annotation metallb.universe.tf/address-pool asks for IPAddressPool "nope"`}},
		{"requested IP outside every pool", Options{}, []change{svcs(web(fx.Annotate("ironlb.io/loadBalancerIPs", "198.18.0.1")))}, IPNotInAnyPool, []string{"198.18.0.1", "in no IPAddressPool"}},
		{"controller has not acted", Options{}, []change{svcs(web())}, AwaitingAddress, []string{"198.51.100.0", `"bgp"`, "controller"}},
		{"address not IronLB's", Options{}, []change{svcs(web(func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.1"}}
		}))}, NotOurAddress, []string{"ironlb.io/ip-allocated-from-pool"}},
		{"address left every pool", Options{}, []change{svcs(web(fx.Assigned("old", "198.18.0.7")))}, AddressLeftPools, []string{"198.18.0.7", "no IPAddressPool"}},
		{"pool not advertised", Options{}, []change{svcs(web(fx.Assigned("quiet", "192.0.2.3"))), ready}, NotAdvertised, []string{`IPAddressPool "quiet"`, "L2Advertisement"}},
		{"no advertisement selects the Service", Options{}, []change{svcs(web(assigned, fx.Labels(map[string]string{"tier": "silver"}))), ready, func(s *snapshot.Snapshot) {
			s.Resources.L2Advertisements[0].Spec.ServiceSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "gold"}}}
		}}, NotAdvertised, []string{"spec.serviceSelectors", "Service default/web"}},
		{"no ready endpoint", Options{}, []change{svcs(web(assigned))}, NoReadyEndpoint, []string{"kubernetes.io/service-name=web"}},
		{"Local without a local endpoint", Options{}, []change{svcs(web(assigned, fx.Local)), eps(fx.Endpoints("default", "web", "elsewhere"))},
			NoLocalEndpoint, []string{"externalTrafficPolicy Local"}},
		{"no eligible node", Options{}, []change{svcs(web(assigned)), ready, nodes(
			fx.Node("n1", map[string]string{l2plan.LabelExclude: ""}),
			fx.Node("n2", nil, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}),
			fx.Node("n3", fx.Drained),
			fx.Node("n4", nil, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}, corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue}),
		)}, NoEligibleNode, []string{"node n1: labelled node.kubernetes.io/exclude", "node n2: not Ready", "node n3: drained", "node n4: NetworkUnavailable"}},
		{"node selectors select no node", Options{}, []change{svcs(web(assigned)), ready, func(s *snapshot.Snapshot) {
			s.Resources.L2Advertisements[0].Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"edge": "yes"}}}
		}}, NoEligibleNode, []string{"node n1: not selected by spec.nodeSelectors of L2Advertisement web"}},
		{"address conflict", Options{}, []change{svcs(web(assigned)), ready, l2(func() v1beta1.ServiceL2Status {
			st := fx.L2Status("default", "web", "203.0.113.1", "n1", "")
			st.Status.Conflict = &v1beta1.AddressConflict{MAC: "02:00:00:00:00:99", Interface: "eth0"}
			return st
		}())}, AddressConflict, []string{"status.conflict", "02:00:00:00:00:99", "node n1"}},
		{"speaker reports no announcer", Options{}, []change{svcs(web(assigned)), ready, l2(fx.L2Status("default", "web", "203.0.113.1", "", "no eligible node: 2 speaker not alive"))},
			NotAnnounced, []string{"status.reason: no eligible node: 2 speaker not alive"}},
		{"no status yet", Options{}, []change{svcs(web(assigned)), ready}, NoL2Status, []string{"n1, n2"}},
		{"announced in layer 2", Options{}, []change{svcs(web(assigned)), ready, l2(fx.L2Status("default", "web", "203.0.113.1", "n2", ""))},
			Announced, []string{"announced in layer 2 by node n2"}},
		{"announced but not answering", Options{}, []change{svcs(web(assigned)), ready, l2(func() v1beta1.ServiceL2Status {
			st := fx.L2Status("default", "web", "203.0.113.1", "n2", "")
			st.Status.Conditions = []metav1.Condition{{Type: "Answering", Status: metav1.ConditionFalse, Reason: "NotAnswering",
				Message: "203.0.113.1 does not answer through the announcing node's datapath on tcp/80: connection refused"}}
			return st
		}())}, NotAnswering, []string{"announced in layer 2 by node n2 but does not answer", "status.conditions[type=Answering] (reason NotAnswering", "tcp/80: connection refused"}},
		{"announced and answering", Options{}, []change{svcs(web(assigned)), ready, l2(func() v1beta1.ServiceL2Status {
			st := fx.L2Status("default", "web", "203.0.113.1", "n2", "")
			st.Status.Conditions = []metav1.Condition{{Type: "Answering", Status: metav1.ConditionTrue, Reason: "Answering", Message: "203.0.113.1 answers on tcp/80"}}
			return st
		}())}, Announced, []string{"announced in layer 2 by node n2"}},
		{"BGP without an established session", Options{}, []change{svcs(web(fx.Assigned("bgp", "198.51.100.1"))), ready,
			sessions(fx.Session("n1", "tor", "Active", 0))}, NoEstablished, []string{"BGPSessionStatus n1.tor: status.state Active", "BGPSessionStatus n2.tor: none published"}},
		{"BGP advertised", Options{}, []change{svcs(web(fx.Assigned("bgp", "198.51.100.1"))), ready,
			sessions(fx.Session("n1", "tor", "Established", 1), fx.Session("n2", "tor", "Established", 1))}, Announced, []string{"advertised over BGP by n1→tor, n2→tor"}},
		{"BGP advertised but not answering on one node", Options{}, []change{svcs(web(fx.Assigned("bgp", "198.51.100.1"))), ready,
			sessions(fx.Session("n1", "tor", "Established", 1), fx.Session("n2", "tor", "Established", 1)),
			bgpReach(fx.BGPNotAnswering("default", "web", "198.51.100.1", "198.51.100.1 does not answer through the announcing node's datapath on tcp/80: connection refused", "n2"))},
			NotAnswering, []string{"advertised over BGP by n1→tor, n2→tor but does not answer on nodes n2", "ServiceBGPStatus default/web.198.51.100.1 status.notAnswering",
				"node n2 (since 2026-12-06T12:00:00Z): 198.51.100.1 does not answer", "tcp/80: connection refused", "nft list table"}},
		{"BGP: another Service's report on the shared IP is not this one's", Options{}, []change{svcs(web(fx.Assigned("bgp", "198.51.100.1"))), ready,
			sessions(fx.Session("n1", "tor", "Established", 1), fx.Session("n2", "tor", "Established", 1)),
			bgpReach(fx.BGPNotAnswering("default", "dns", "198.51.100.1", "refused", "n2"))},
			Announced, []string{"advertised over BGP by n1→tor, n2→tor"}},
		{"client outside the source ranges", Options{Client: netip.MustParseAddr("198.51.100.9")}, []change{svcs(web(assigned, func(s *corev1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{"192.0.2.0/24", "2001:db8::/32", "bogus"}
		})), ready, l2(fx.L2Status("default", "web", "203.0.113.1", "n2", ""))},
			ClientOutsideSourceRanges, []string{"client 198.51.100.9 is outside the source ranges of Service default/web (spec.loadBalancerSourceRanges)",
				"drops its new connections to 203.0.113.1", "admitted: 192.0.2.0/24", `spec.loadBalancerSourceRanges[2]: "bogus" is not a CIDR`}},
		{"client inside the annotation's ranges", Options{Client: netip.MustParseAddr("192.0.2.9")}, []change{svcs(web(assigned,
			fx.Annotate("service.beta.kubernetes.io/load-balancer-source-ranges", "192.0.2.0/24"))), ready, l2(fx.L2Status("default", "web", "203.0.113.1", "n2", ""))},
			Announced, []string{"announced in layer 2 by node n2"}},
		{"client outside the annotation's ranges", Options{Client: netip.MustParseAddr("::ffff:198.51.100.9")}, []change{svcs(web(assigned,
			fx.Annotate("service.beta.kubernetes.io/load-balancer-source-ranges", "192.0.2.0/24"))), ready, l2(fx.L2Status("default", "web", "203.0.113.1", "n2", ""))},
			ClientOutsideSourceRanges, []string{"client 198.51.100.9", "(annotation service.beta.kubernetes.io/load-balancer-source-ranges)"}},
		{"BGP: every node drained", Options{}, []change{svcs(web(fx.Assigned("bgp", "198.51.100.1"))), ready, nodes(fx.Node("n1", fx.Drained))},
			NoEligibleNode, []string{"node n1: node drained"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			for _, c := range tt.changes {
				c(s)
			}
			rs := Explain(s, "default", "web", tt.opts)
			if len(rs) == 0 {
				t.Fatal("no reason")
			}
			var text []string
			for _, r := range rs {
				text = append(text, string(r.Code)+": "+r.Message)
				text = append(text, r.Details...)
			}
			all := strings.Join(text, "\n")
			if rs[0].Code != tt.code {
				t.Fatalf("code %s, want %s:\n%s", rs[0].Code, tt.code, all)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in:\n%s", w, all)
				}
			}
			if ok := rs[0].OK(); ok != (tt.code == Announced) {
				t.Errorf("OK() = %v for %s", ok, rs[0].Code)
			}
		})
	}
}
