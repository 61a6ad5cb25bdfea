package status

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	fx "github.com/ironlb/ironlb/ironlbctl/internal/fixture"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/ironlbctl/why"
)

func TestBuild(t *testing.T) {
	web := fx.Pool("web", "203.0.113.0/30", "2001:db8::/126")
	web.Status.IPv4 = &v1beta1.PoolFamilyStatus{Total: 4, Assigned: 1, Available: 3}
	web.Status.IPv6 = &v1beta1.PoolFamilyStatus{Total: 4, Assigned: 0, Available: 4}
	web.Status.Conditions = []metav1.Condition{{Type: "Valid", Status: metav1.ConditionTrue}}
	both := fx.Pool("both", "198.51.100.0/24")
	s := &snapshot.Snapshot{
		Resources: config.Resources{
			Pools:             []v1beta1.IPAddressPool{web, both, fx.Pool("quiet", "192.0.2.0/28")},
			L2Advertisements:  []v1beta1.L2Advertisement{fx.L2("l2", "web", "both")},
			BGPAdvertisements: []v1beta1.BGPAdvertisement{fx.BGPAdv("bgp", "both")},
			BGPPeers:          []v1beta1.BGPPeer{fx.Peer("tor", "192.0.2.254")},
		},
		Nodes: []corev1.Node{fx.Node("n1", nil), fx.Node("n2", nil)},
		Services: []corev1.Service{
			fx.Service("default", "web", 1, fx.Assigned("web", "203.0.113.1"), fx.Proxy),
			fx.Service("default", "local", 2, fx.Assigned("both", "198.51.100.7"), fx.Local, func(s *corev1.Service) {
				s.Spec.LoadBalancerSourceRanges = []string{"192.0.2.0/24", "10.0.0.0/33", "2001:db8::/32"}
			}),
			fx.Service("default", "quiet", 3, fx.Assigned("quiet", "192.0.2.1")),
			fx.Service("default", "routed", 6, fx.Assigned("both", "198.51.100.8")),
			fx.Service("default", "routed-ok", 7, fx.Assigned("both", "198.51.100.9")),
			fx.Service("default", "pending", 4),
			fx.Service("default", "other", 5, fx.Class("example.com/x")),
		},
		Endpoints: []discoveryv1.EndpointSlice{fx.Endpoints("default", "web", "n1", "n2"), fx.Endpoints("default", "local", "n2"),
			fx.Endpoints("default", "routed", "n1"), fx.Endpoints("default", "routed-ok", "n1")},
		// Layer 2 answers for routed on n1; BGP does not on n1 and n2.
		BGPReach: []v1beta1.ServiceBGPStatus{fx.BGPNotAnswering("default", "routed", "198.51.100.8", "198.51.100.8 does not answer through the announcing node's datapath on tcp/80: no answer (timed out)", "n1", "n2")},
		L2Statuses: []v1beta1.ServiceL2Status{
			func() v1beta1.ServiceL2Status {
				st := fx.L2Status("default", "web", "203.0.113.1", "n1", "")
				st.Status.Conditions = []metav1.Condition{{Type: "Answering", Status: metav1.ConditionFalse, Reason: "NotAnswering",
					Message: "203.0.113.1 does not answer through the announcing node's datapath on tcp/80: connection refused"}}
				return st
			}(),
			func() v1beta1.ServiceL2Status {
				st := fx.L2Status("default", "routed", "198.51.100.8", "n1", "")
				st.Status.Conditions = []metav1.Condition{{Type: "Answering", Status: metav1.ConditionTrue, Reason: "Answering"}}
				return st
			}(),
			func() v1beta1.ServiceL2Status {
				st := fx.L2Status("default", "local", "198.51.100.7", "n2", "")
				st.Status.Conditions = []metav1.Condition{{Type: "Answering", Status: metav1.ConditionTrue, Reason: "Answering"}}
				return st
			}(),
		},
		BGPSessions: []v1beta1.BGPSessionStatus{fx.Session("n1", "tor", "Established", 1), fx.Session("n2", "tor", "Established", 1)},
	}
	r := Build(s, why.Options{}.Handles)

	var pools []string
	for _, p := range r.Pools {
		pools = append(pools, fmt.Sprintf("%s %s %d/%d/%d %s", p.Pool, p.Family, p.Total, p.Assigned, p.Available, p.Valid))
	}
	wantPools := []string{"both - -1/-1/-1 ", "quiet - -1/-1/-1 ", "web IPv4 4/1/3 True", "web IPv6 4/0/4 True"}
	if fmt.Sprint(pools) != fmt.Sprint(wantPools) {
		t.Errorf("pools %q, want %q", pools, wantPools)
	}
	var rows []string
	for _, x := range r.Services {
		rows = append(rows, fmt.Sprintf("%s %s %s %s [%s] %s %d %v %s %q %s", x.Service, x.IP, x.Pool, x.Mode, x.Announcer, x.Datapath, x.Endpoints, x.LocalNodes, x.SourceRanges, x.SourceRangeProblems, x.Answering))
	}
	want := []string{
		// Local: only n2 has an endpoint, so only n2's BGP plan routes it.
		// Source ranges: the IP's family only; the bad entry is named.
		`default/local 198.51.100.7 both both [l2: n2; bgp: n2→tor] kube-proxy 1 [n2] 192.0.2.0/24 ["spec.loadBalancerSourceRanges[1]: \"10.0.0.0/33\" is not a CIDR; it admits no client (the Service stays restricted to its valid ranges)"] yes`,
		"default/pending <pending>  none [-] - 0 [] - [] -",
		"default/quiet 192.0.2.1 quiet none [-] kube-proxy 0 [] any [] -",
		"default/routed 198.51.100.8 both both [l2: n1; bgp: n1→tor,n2→tor] kube-proxy 1 [] any [] NO",
		// BGP nodes that answer write nothing; no layer 2 status yet.
		"default/routed-ok 198.51.100.9 both both [l2: none (no ServiceL2Status yet); bgp: n1→tor,n2→tor] kube-proxy 1 [] any [] -",
		"default/web 203.0.113.1 web layer2 [n1] ironlb 2 [] any [] NO",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"POOL", "web    IPv4    4      1         3          True", "SERVICE", "default/web        203.0.113.1", "SOURCE RANGES", "192.0.2.0/24 (1 invalid entries)",
		"ANSWERING", "default/web 203.0.113.1 does not answer: 203.0.113.1 does not answer through the announcing node's datapath on tcp/80: connection refused",
		"default/routed 198.51.100.8 does not answer: bgp node n1: 198.51.100.8 does not answer through the announcing node's datapath on tcp/80: no answer (timed out); bgp node n2: "} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, buf.String())
		}
	}
}
