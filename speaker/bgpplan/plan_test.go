package bgpplan

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/readiness"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

func ptr[T any](v T) *T { return &v }

func compile(t *testing.T, advs []v1beta1.BGPAdvertisement, peers ...v1beta1.BGPPeer) *config.Config {
	t.Helper()
	cfg, err := config.Compile(config.Resources{
		Pools: []v1beta1.IPAddressPool{
			{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.128/25", "2001:db8:300:1::/120"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/25"}}},
		},
		BGPAdvertisements: advs,
		BGPPeers:          peers,
		Communities: []v1beta1.Community{{ObjectMeta: metav1.ObjectMeta{Name: "c"},
			Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{{Name: "no-export", Value: "65535:65281"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func peer(name, addr string, nodeLabels map[string]string) v1beta1.BGPPeer {
	p := v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPPeerSpec{MyASN: 64512, ASN: 64500, Address: addr}}
	if nodeLabels != nil {
		p.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: nodeLabels}}
	}
	return p
}

func svc(name string, local bool, endpoints map[string]int, ips ...string) lbstate.Service {
	s := lbstate.Service{Key: types.NamespacedName{Namespace: "ns", Name: name}, Pool: "bgp", Local: local, Endpoints: readiness.CountsOf(endpoints)}
	for _, ip := range ips {
		s.IPs = append(s.IPs, netip.MustParseAddr(ip))
	}
	return s
}

var node1 = l2plan.Node{Name: "node1", Labels: map[string]string{"rack": "a"}, Weight: 1, Usable: true}

func routes(p Plan) string {
	var out []string
	for _, r := range p.Routes {
		s := r.Prefix.String() + "->" + strings.Join(r.Peers, "+")
		if r.LocalPref != nil {
			s += fmt.Sprintf(" lp=%d", *r.LocalPref)
		}
		for _, c := range r.Communities {
			s += fmt.Sprintf(" c=%d:%d", c>>16, c&0xffff)
		}
		for _, c := range r.LargeCommunities {
			s += fmt.Sprintf(" lc=%d:%d:%d", c[0], c[1], c[2])
		}
		if r.LinkBandwidth != 0 {
			s += fmt.Sprintf(" bw=%g", r.LinkBandwidth)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// weighted is an advertisement with endpointWeightedECMP.
func weighted(name string) v1beta1.BGPAdvertisement {
	return v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPAdvertisementSpec{EndpointWeightedECMP: true}}
}

func TestCompute(t *testing.T) {
	all := map[string]int{"node2": 1}
	tor := peer("tor", "198.51.100.1", nil)
	tests := []struct {
		name     string
		advs     []v1beta1.BGPAdvertisement
		peers    []v1beta1.BGPPeer
		svcs     []lbstate.Service
		node     l2plan.Node
		want     string
		withheld string
	}{
		{"cluster: endpoints anywhere", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", false, all, "203.0.113.130", "2001:db8:300:1::5")}, node1,
			"203.0.113.130/32->tor, 2001:db8:300:1::5/128->tor", ""},
		{"cluster: no endpoint at all", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", false, nil, "203.0.113.130")}, node1, "", "no ready endpoint"},
		{"local: endpoint elsewhere", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, all, "203.0.113.130")}, node1, "", "no local endpoint"},
		{"local: endpoint here", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, map[string]int{"node1": 1}, "203.0.113.130")}, node1, "203.0.113.130/32->tor", ""},
		{"aggregation, local-pref, communities", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec: v1beta1.BGPAdvertisementSpec{AggregationLength: ptr(int32(25)), LocalPref: ptr(uint32(150)), Communities: []string{"no-export", "64500:7", "large:64500:1:2"}}}},
			[]v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, all, "203.0.113.130")}, node1,
			"203.0.113.128/25->tor lp=150 c=64500:7 c=65535:65281 lc=64500:1:2", ""},
		{"advertisement for another rack", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"rack": "b"}}}}}},
			[]v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, all, "203.0.113.130")}, node1, "", "no BGPAdvertisement selects"},
		{"peer subset", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{Peers: []string{"tor2"}}}},
			[]v1beta1.BGPPeer{tor, peer("tor2", "198.51.100.2", nil)}, []lbstate.Service{svc("s", false, all, "203.0.113.130")}, node1, "203.0.113.130/32->tor2", ""},
		{"peer of another rack", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}},
			[]v1beta1.BGPPeer{peer("tor-b", "198.51.100.2", map[string]string{"rack": "b"})}, []lbstate.Service{svc("s", false, all, "203.0.113.130")}, node1, "", "no BGPAdvertisement selects"},
		{"excluded node", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", false, all, "203.0.113.130")}, l2plan.Node{Name: "node1", Usable: false, Why: "not Ready"}, "", "node not Ready"},
		{"layer 2 pool is not BGP's", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}}},
			[]v1beta1.BGPPeer{tor}, []lbstate.Service{func() lbstate.Service { s := svc("s", false, all, "203.0.113.5"); s.Pool = "l2"; return s }()}, node1, "", ""},
		// Services sharing an IP (ironlb.io/allow-shared-ip): the IP is
		// advertised when any of them can be served from this node, once,
		// and withheld only when none can.
		{"shared IP: Service without endpoints after one with", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", false, all, "203.0.113.130"), svc("t", false, nil, "203.0.113.130")}, node1, "203.0.113.130/32->tor", ""},
		{"shared IP: Service without endpoints before one with", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("t", false, nil, "203.0.113.130"), svc("s", false, all, "203.0.113.130")}, node1, "203.0.113.130/32->tor", ""},
		{"shared IP: Local Service without local endpoint beside a Cluster one", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, all, "203.0.113.130"), svc("t", false, all, "203.0.113.130")}, node1, "203.0.113.130/32->tor", ""},
		{"shared IP: both qualify, one route", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", false, all, "203.0.113.130"), svc("t", false, all, "203.0.113.130")}, node1, "203.0.113.130/32->tor", ""},
		// serviceSelectors: an advertisement covers the Services it selects
		// (any of those sharing an IP); the others are not its business.
		{"service selector: selected", []v1beta1.BGPAdvertisement{gold("a", "tor2", "64500:2"), plain("b", "64500:1")},
			[]v1beta1.BGPPeer{tor, peer("tor2", "198.51.100.2", nil)}, []lbstate.Service{labelled(svc("s", false, all, "203.0.113.130"), "gold")}, node1,
			"203.0.113.130/32->tor2 c=64500:2", ""},
		{"service selector: not selected", []v1beta1.BGPAdvertisement{gold("a", "tor2", "64500:2"), plain("b", "64500:1")},
			[]v1beta1.BGPPeer{tor, peer("tor2", "198.51.100.2", nil)}, []lbstate.Service{labelled(svc("s", false, all, "203.0.113.130"), "silver")}, node1,
			"203.0.113.130/32->tor+tor2 c=64500:1", ""},
		{"service selector: unlabelled Service", []v1beta1.BGPAdvertisement{gold("a", "tor", "64500:2")},
			[]v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, all, "203.0.113.130")}, node1, "", ""},
		{"service selector: one of a shared IP's Services selected", []v1beta1.BGPAdvertisement{gold("a", "tor", "64500:2")},
			[]v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, all, "203.0.113.130"), labelled(svc("t", false, nil, "203.0.113.130"), "gold")}, node1,
			"203.0.113.130/32->tor c=64500:2", ""},
		// endpointWeightedECMP: Local Services' routes carry 1 Mbit/s
		// (125000 bytes/s) per ready local endpoint; anything else none.
		{"weighted: local endpoints here", []v1beta1.BGPAdvertisement{weighted("a")}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, map[string]int{"node1": 3, "node2": 1}, "203.0.113.130")}, node1, "203.0.113.130/32->tor bw=375000", ""},
		{"weighted: Cluster Service carries none", []v1beta1.BGPAdvertisement{weighted("a")}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", false, map[string]int{"node1": 3}, "203.0.113.130")}, node1, "203.0.113.130/32->tor", ""},
		{"weighted: shared IP of Local Services adds their endpoints", []v1beta1.BGPAdvertisement{weighted("a")}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, map[string]int{"node1": 2}, "203.0.113.130"), svc("t", true, map[string]int{"node1": 1}, "203.0.113.130")}, node1,
			"203.0.113.130/32->tor bw=375000", ""},
		{"weighted: shared IP with a Cluster Service carries none", []v1beta1.BGPAdvertisement{weighted("a")}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, map[string]int{"node1": 2}, "203.0.113.130"), svc("t", false, all, "203.0.113.130")}, node1,
			"203.0.113.130/32->tor", ""},
		{"weighted only where opted in", []v1beta1.BGPAdvertisement{weighted("a"), {ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1beta1.BGPAdvertisementSpec{Peers: []string{"tor2"}}}},
			[]v1beta1.BGPPeer{tor, peer("tor2", "198.51.100.2", nil)}, []lbstate.Service{svc("s", true, map[string]int{"node1": 1}, "203.0.113.130")}, node1,
			"203.0.113.130/32->tor+tor2 bw=125000, 203.0.113.130/32->tor2", ""},
		{"shared IP: none qualifies, every reason", []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, []v1beta1.BGPPeer{tor},
			[]lbstate.Service{svc("s", true, all, "203.0.113.130"), svc("t", false, nil, "203.0.113.130"), svc("u", false, nil, "203.0.113.130")}, node1,
			"", "no local endpoint (externalTrafficPolicy: Local); no ready endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(compile(t, tt.advs, tt.peers...), tt.svcs, tt.node)
			if got := routes(p); got != tt.want {
				t.Fatalf("routes %q, want %q", got, tt.want)
			}
			var why string
			for _, w := range p.Withheld {
				why = w
			}
			if tt.withheld == "" && why != "" || !strings.Contains(why, tt.withheld) {
				t.Fatalf("withheld %q, want %q", why, tt.withheld)
			}
		})
	}
}

func TestPeersSelectedByNode(t *testing.T) {
	cfg := compile(t, nil, peer("tor-a", "198.51.100.1", map[string]string{"rack": "a"}), peer("tor-b", "198.51.100.2", map[string]string{"rack": "b"}))
	p := Compute(cfg, nil, node1)
	if len(p.Peers) != 1 || p.Peers[0].Name != "tor-a" || p.Peers[0].PeerASN != 64500 || p.Peers[0].Port != 179 {
		t.Fatalf("peers %+v", p.Peers)
	}
}

// gold advertises the Services labelled tier=gold to one peer.
func gold(name, peer, community string) v1beta1.BGPAdvertisement {
	return v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPAdvertisementSpec{
		Peers: []string{peer}, Communities: []string{community},
		ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "gold"}}},
	}}
}

// plain advertises every Service not labelled tier=gold.
func plain(name, community string) v1beta1.BGPAdvertisement {
	return v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.BGPAdvertisementSpec{
		Communities: []string{community},
		ServiceSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"gold"}},
		}}},
	}}
}

func labelled(s lbstate.Service, tier string) lbstate.Service {
	s.Labels = map[string]string{"tier": tier}
	return s
}
