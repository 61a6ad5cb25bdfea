package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

const (
	kl2  = KindL2Advertisement
	kbgp = KindBGPAdvertisement
)

// advBase is a valid set of pools and peers the advertisement tests add to.
func advBase() Resources {
	return Resources{
		Pools: []v1beta1.IPAddressPool{
			labeledPool("web", map[string]string{"tier": "front"}, "192.0.2.0/24"),
			labeledPool("api", map[string]string{"tier": "front"}, "198.51.100.0/25"),
			labeledPool("db", map[string]string{"tier": "back"}, "198.51.100.128/25", "2001:db8::/64"),
			pool("range", "203.0.113.10-203.0.113.20", "2001:db8:1::/56"),
		},
		BGPPeers: []v1beta1.BGPPeer{
			peer("tor1", "192.0.2.254", 64500, 64501),
			peer("tor2", "2001:db8:ffff::1", 64500, 64500),
		},
		Communities: []v1beta1.Community{communityObj("aliases", "no-export", "65535:65281", "big", "large:64500:1:2")},
	}
}

func withL2(as ...v1beta1.L2Advertisement) Resources {
	r := advBase()
	r.L2Advertisements = as
	return r
}

func withBGP(as ...v1beta1.BGPAdvertisement) Resources {
	r := advBase()
	r.BGPAdvertisements = as
	return r
}

func TestCompileL2Valid(t *testing.T) {
	named := l2("named", "web", "range")
	bySel := with(l2("by-selector", "web"), func(a *v1beta1.L2Advertisement) {
		a.Spec.IPAddressPoolSelectors = []metav1.LabelSelector{sel("tier", "front")}
		a.Spec.NodeSelectors = []metav1.LabelSelector{sel("rack", "r1"), sel("rack", "r2")}
		a.Spec.Interfaces = []string{"eth0", "bond*", "en[op]?s[0-9]"}
	})
	all := l2("all")
	cfg := checkErrs(t, withL2(named, bySel, all))

	got := map[string]L2Advertisement{}
	for _, a := range cfg.L2Advertisements() {
		got[a.Name] = a
	}
	for name, want := range map[string][]string{
		"named":       {"range", "web"},
		"by-selector": {"api", "web"},
		"all":         {"api", "db", "range", "web"},
	} {
		if !reflect.DeepEqual(got[name].Pools, want) {
			t.Errorf("%s pools = %v, want %v", name, got[name].Pools, want)
		}
	}
	s := got["by-selector"]
	if !reflect.DeepEqual(s.Interfaces, []string{"bond*", "en[op]?s[0-9]", "eth0"}) {
		t.Errorf("interfaces = %v", s.Interfaces)
	}
	if !s.SelectsNode(map[string]string{"rack": "r2"}) || s.SelectsNode(map[string]string{"rack": "r3"}) || s.SelectsNode(nil) {
		t.Error("node selectors do not behave as any-of")
	}
	if !got["all"].SelectsNode(nil) {
		t.Error("empty node selectors should select every node")
	}

	var forWeb []string
	for _, a := range cfg.L2For("web") {
		forWeb = append(forWeb, a.Name)
	}
	if !reflect.DeepEqual(forWeb, []string{"all", "by-selector", "named"}) {
		t.Errorf("L2For(web) = %v", forWeb)
	}
	if n := len(cfg.L2For("nope")); n != 0 {
		t.Errorf("L2For(unknown) returned %d", n)
	}
}

func TestCompileL2Rules(t *testing.T) {
	tooMany := make([]string, 65)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("eth%d", i)
	}
	ifaces := func(names ...string) v1beta1.L2Advertisement {
		return with(l2("a"), func(a *v1beta1.L2Advertisement) { a.Spec.Interfaces = names })
	}
	runRules(t, []ruleCase{
		{"unknown pool", withL2(l2("a", "web", "wbe")), []wantErr{{kl2, "a", "spec.ipAddressPools[1]", `IPAddressPool "wbe" does not exist or is not in force`}}},
		{"pool twice", withL2(l2("a", "web", "db", "web")), []wantErr{{kl2, "a", "spec.ipAddressPools[2]", "listed twice"}}},
		{"selector matching nothing is fine", withL2(with(l2("a"), func(a *v1beta1.L2Advertisement) {
			a.Spec.IPAddressPoolSelectors = []metav1.LabelSelector{sel("tier", "none")}
		})), nil},
		{"bad pool selector", withL2(with(l2("a"), func(a *v1beta1.L2Advertisement) {
			a.Spec.IPAddressPoolSelectors = []metav1.LabelSelector{badSelector}
		})), []wantErr{{kl2, "a", "spec.ipAddressPoolSelectors[0]", "invalid label selector"}}},
		{"bad node selector", withL2(with(l2("a"), func(a *v1beta1.L2Advertisement) {
			a.Spec.NodeSelectors = []metav1.LabelSelector{sel("x", "y"), badSelector}
		})), []wantErr{{kl2, "a", "spec.nodeSelectors[1]", "invalid label selector"}}},
		{"bad service selector", withL2(with(l2("a"), func(a *v1beta1.L2Advertisement) {
			a.Spec.ServiceSelectors = []metav1.LabelSelector{sel("tier", "gold"), badSelector}
		})), []wantErr{{kl2, "a", "spec.serviceSelectors[1]", "invalid label selector"}}},
		{"empty interface", withL2(ifaces("eth0", "")), []wantErr{{kl2, "a", "spec.interfaces[1]", "is empty"}}},
		{"bad pattern", withL2(ifaces("eth[")), []wantErr{{kl2, "a", "spec.interfaces[0]", "not a valid pattern"}}},
		{"slash", withL2(ifaces("eth0/1")), []wantErr{{kl2, "a", "spec.interfaces[0]", "'/'"}}},
		{"space", withL2(ifaces("eth 0")), []wantErr{{kl2, "a", "spec.interfaces[0]", "white space"}}},
		{"interface too long", withL2(ifaces(strings.Repeat("e", 65))), []wantErr{{kl2, "a", "spec.interfaces[0]", "65 characters"}}},
		{"interface twice", withL2(ifaces("eth0", "eth0")), []wantErr{{kl2, "a", "spec.interfaces[1]", "listed twice"}}},
		{"too many interfaces", withL2(ifaces(tooMany...)), []wantErr{{kl2, "a", "spec.interfaces", "65 items, at most 64"}}},
		{"duplicate name", withL2(l2("a", "web"), l2("a", "db")), []wantErr{{kl2, "a", "metadata.name", "2 objects"}}},
	})
}

func TestCompileBGPValid(t *testing.T) {
	full := with(bgpAdv("full", "web"), func(a *v1beta1.BGPAdvertisement) {
		a.Spec.AggregationLength = ptr(int32(25))
		a.Spec.AggregationLengthV6 = ptr(int32(64))
		a.Spec.LocalPref = ptr(uint32(150))
		a.Spec.Communities = []string{"no-export", "65000:100", "big", "large:1:2:3", "65535:65281", "0:0"}
		a.Spec.Peers = []string{"tor2", "tor1"}
		a.Spec.IPAddressPoolSelectors = []metav1.LabelSelector{sel("tier", "back")}
		a.Spec.NodeSelectors = []metav1.LabelSelector{sel("bgp", "yes")}
	})
	// localPref towards an eBGP-only peer is allowed (it is just not sent).
	ebgp := with(bgpAdv("ebgp-localpref", "range"), func(a *v1beta1.BGPAdvertisement) {
		a.Spec.LocalPref = ptr(uint32(50))
		a.Spec.Peers = []string{"tor1"}
	})
	def := bgpAdv("defaults")
	cfg := checkErrs(t, withBGP(full, ebgp, def))

	got := map[string]BGPAdvertisement{}
	for _, a := range cfg.BGPAdvertisements() {
		got[a.Name] = a
	}
	want := BGPAdvertisement{
		Name:                "full",
		Pools:               []string{"db", "web"},
		AggregationLength:   25,
		AggregationLengthV6: 64,
		LocalPref:           150,
		HasLocalPref:        true,
		Communities:         []uint32{0, 65000<<16 | 100, 0xFFFFFF01},
		LargeCommunities:    []LargeCommunity{{1, 2, 3}, {64500, 1, 2}},
		Peers:               []string{"tor1", "tor2"},
	}
	f := got["full"]
	if len(f.NodeSelectors) != 1 || f.NodeSelectors[0].String() != "bgp=yes" {
		t.Errorf("node selectors = %v", f.NodeSelectors)
	}
	f.NodeSelectors = nil
	if !reflect.DeepEqual(f, want) {
		t.Errorf("full:\n got %+v\nwant %+v", f, want)
	}
	d := got["defaults"]
	if d.AggregationLength != 32 || d.AggregationLengthV6 != 128 || d.HasLocalPref || len(d.Peers) != 0 ||
		!reflect.DeepEqual(d.Pools, []string{"api", "db", "range", "web"}) {
		t.Errorf("defaults = %+v", d)
	}
	if !d.SelectsPeer("anything") || f.SelectsPeer("tor3") || !f.SelectsPeer("tor2") {
		t.Error("SelectsPeer wrong")
	}
	if !got["ebgp-localpref"].HasLocalPref {
		t.Error("localPref dropped")
	}
	var forDB []string
	for _, a := range cfg.BGPFor("db") {
		forDB = append(forDB, a.Name)
	}
	if !reflect.DeepEqual(forDB, []string{"defaults", "full"}) {
		t.Errorf("BGPFor(db) = %v", forDB)
	}
	if got := (LargeCommunity{64500, 1, 2}).String(); got != "large:64500:1:2" {
		t.Errorf("LargeCommunity.String() = %q", got)
	}
}

func TestCompileBGPRules(t *testing.T) {
	agg := func(name string, v4, v6 *int32, pools ...string) v1beta1.BGPAdvertisement {
		return with(bgpAdv(name, pools...), func(a *v1beta1.BGPAdvertisement) {
			a.Spec.AggregationLength, a.Spec.AggregationLengthV6 = v4, v6
		})
	}
	comm := func(cs ...string) v1beta1.BGPAdvertisement {
		return with(bgpAdv("a", "web"), func(a *v1beta1.BGPAdvertisement) { a.Spec.Communities = cs })
	}
	peers := func(ps ...string) v1beta1.BGPAdvertisement {
		return with(bgpAdv("a", "web"), func(a *v1beta1.BGPAdvertisement) { a.Spec.Peers = ps })
	}
	i32 := func(v int32) *int32 { return &v }
	manyComms := make([]string, 65)
	for i := range manyComms {
		manyComms[i] = fmt.Sprintf("1:%d", i)
	}
	manyPeers := make([]string, 257)
	for i := range manyPeers {
		manyPeers[i] = "tor1"
	}
	runRules(t, []ruleCase{
		{"unknown pool", withBGP(bgpAdv("a", "nope")), []wantErr{{kbgp, "a", "spec.ipAddressPools[0]", `IPAddressPool "nope" does not exist or is not in force`}}},
		{"bad pool selector", withBGP(with(bgpAdv("a"), func(a *v1beta1.BGPAdvertisement) {
			a.Spec.IPAddressPoolSelectors = []metav1.LabelSelector{badSelector}
		})), []wantErr{{kbgp, "a", "spec.ipAddressPoolSelectors[0]", "invalid label selector"}}},
		{"bad node selector", withBGP(with(bgpAdv("a"), func(a *v1beta1.BGPAdvertisement) {
			a.Spec.NodeSelectors = []metav1.LabelSelector{badSelector}
		})), []wantErr{{kbgp, "a", "spec.nodeSelectors[0]", "invalid label selector"}}},
		{"bad service selector", withBGP(with(bgpAdv("a"), func(a *v1beta1.BGPAdvertisement) {
			a.Spec.ServiceSelectors = []metav1.LabelSelector{badSelector}
		})), []wantErr{{kbgp, "a", "spec.serviceSelectors[0]", "invalid label selector"}}},
		{"aggregation 33", withBGP(agg("a", i32(33), nil, "web")), []wantErr{{kbgp, "a", "spec.aggregationLength", "33 is out of range 0..32"}}},
		{"aggregation -1", withBGP(agg("a", i32(-1), nil, "web")), []wantErr{{kbgp, "a", "spec.aggregationLength", "out of range"}}},
		{"aggregation v6 129", withBGP(agg("a", nil, i32(129), "db")), []wantErr{{kbgp, "a", "spec.aggregationLengthV6", "129 is out of range 0..128"}}},
		{"aggregation equal to or longer than the pool prefix", withBGP(agg("a", i32(25), i32(64), "web", "db")), nil},
		{"aggregation shorter than the pool prefix", withBGP(agg("a", i32(23), nil, "web")),
			[]wantErr{{kbgp, "a", "spec.aggregationLength", `23 is shorter than /24, the widest prefix of IPAddressPool "web" spec.addresses[0] "192.0.2.0/24"`}}},
		{"aggregation only checks its family", withBGP(agg("a", i32(25), i32(63), "db")),
			[]wantErr{{kbgp, "a", "spec.aggregationLengthV6", `63 is shorter than /64, the widest prefix of IPAddressPool "db" spec.addresses[1]`}}},
		{"aggregation of a range uses its widest block", withBGP(agg("ok", i32(30), nil, "range"), agg("bad", i32(29), nil, "range")),
			[]wantErr{{kbgp, "bad", "spec.aggregationLength", `29 is shorter than /30, the widest prefix of IPAddressPool "range" spec.addresses[0] "203.0.113.10-203.0.113.20"`}}},
		{"aggregation applies to every pool when none named", withBGP(agg("a", i32(24), nil)),
			[]wantErr{
				{kbgp, "a", "spec.aggregationLength", `/25, the widest prefix of IPAddressPool "api"`},
				{kbgp, "a", "spec.aggregationLength", `/25, the widest prefix of IPAddressPool "db"`},
				{kbgp, "a", "spec.aggregationLength", `/30, the widest prefix of IPAddressPool "range"`},
			}},
		{"endpointWeightedECMP with aggregation", withBGP(with(agg("a", i32(25), nil, "web"), func(a *v1beta1.BGPAdvertisement) { a.Spec.EndpointWeightedECMP = true })),
			[]wantErr{{kbgp, "a", "spec.endpointWeightedECMP", "needs aggregationLength 32 and aggregationLengthV6 128 (have 25 and 128)"}}},
		{"endpointWeightedECMP with host routes", withBGP(with(agg("a", i32(32), i32(128), "web"), func(a *v1beta1.BGPAdvertisement) { a.Spec.EndpointWeightedECMP = true })), nil},
		{"standard community out of range", withBGP(comm("65536:1")), []wantErr{{kbgp, "a", "spec.communities[0]", "does not fit in 16 bits"}}},
		{"standard community three parts", withBGP(comm("1:2:3")), []wantErr{{kbgp, "a", "spec.communities[0]", "not a valid community"}}},
		{"standard community not numbers", withBGP(comm("a:b")), []wantErr{{kbgp, "a", "spec.communities[0]", "not a decimal number"}}},
		{"standard community sign", withBGP(comm("+1:2")), []wantErr{{kbgp, "a", "spec.communities[0]", "not a decimal number"}}},
		{"standard community empty part", withBGP(comm("1:")), []wantErr{{kbgp, "a", "spec.communities[0]", "empty number"}}},
		{"large community two parts", withBGP(comm("large:1:2")), []wantErr{{kbgp, "a", "spec.communities[0]", "three numbers"}}},
		{"large community out of range", withBGP(comm("large:4294967296:1:1")), []wantErr{{kbgp, "a", "spec.communities[0]", "does not fit in 32 bits"}}},
		{"unknown alias", withBGP(comm("no-exprot")), []wantErr{{kbgp, "a", "spec.communities[0]", `"no-exprot" is neither a community value`}}},
		{"empty community", withBGP(comm("")), []wantErr{{kbgp, "a", "spec.communities[0]", "is empty"}}},
		{"community twice", withBGP(comm("1:1", "no-export", "1:1")), []wantErr{{kbgp, "a", "spec.communities[2]", "listed twice"}}},
		{"community too long", withBGP(comm(strings.Repeat("x", 129))), []wantErr{{kbgp, "a", "spec.communities[0]", "129 characters"}}},
		{"too many communities", withBGP(comm(manyComms...)), []wantErr{{kbgp, "a", "spec.communities", "65 items, at most 64"}}},
		{"unknown peer", withBGP(peers("tor1", "tor9")), []wantErr{{kbgp, "a", "spec.peers[1]", `BGPPeer "tor9" does not exist or is not in force`}}},
		{"peer twice", withBGP(peers("tor1", "tor1")), []wantErr{{kbgp, "a", "spec.peers[1]", "listed twice"}}},
		{"too many peers", withBGP(peers(manyPeers...)), func() []wantErr {
			w := []wantErr{{kbgp, "a", "spec.peers", "257 items, at most 256"}}
			for i := 1; i < 257; i++ {
				w = append(w, wantErr{kbgp, "a", fmt.Sprintf("spec.peers[%d]", i), "listed twice"})
			}
			return w
		}()},
		{"duplicate name", withBGP(bgpAdv("a"), bgpAdv("a", "web")), []wantErr{{kbgp, "a", "metadata.name", "2 objects"}}},
	})
}
