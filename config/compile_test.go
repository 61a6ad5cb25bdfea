package config

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
)

// fullValid is a configuration using every kind and most fields.
func fullValid() Resources {
	r := advBase()
	r.BFDProfiles = []v1beta1.BFDProfile{bfd("fast"), with(bfd("slow"), func(b *v1beta1.BFDProfile) { b.Spec.ReceiveInterval = ptr(uint32(1000)) })}
	r.BGPPeers = append(r.BGPPeers, with(peer("tor3", "192.0.2.253", 64500, 64502), func(p *v1beta1.BGPPeer) {
		p.Spec.BFDProfile = "fast"
		p.Spec.NodeSelectors = []metav1.LabelSelector{sel("rack", "r3")}
	}))
	r.Pools[0].Spec.ServiceAllocation = &v1beta1.ServiceAllocation{Namespaces: []string{"web", "shop"}, ServiceSelectors: []metav1.LabelSelector{sel("a", "b")}}
	r.L2Advertisements = []v1beta1.L2Advertisement{
		l2("l2-all"),
		with(l2("l2-front"), func(a *v1beta1.L2Advertisement) {
			a.Spec.IPAddressPoolSelectors = []metav1.LabelSelector{sel("tier", "front")}
			a.Spec.Interfaces = []string{"eth*", "bond0"}
		}),
	}
	r.BGPAdvertisements = []v1beta1.BGPAdvertisement{
		with(bgpAdv("bgp-db", "db"), func(a *v1beta1.BGPAdvertisement) {
			a.Spec.Communities = []string{"no-export", "big", "1:1"}
			a.Spec.Peers = []string{"tor1", "tor3"}
		}),
		bgpAdv("bgp-all"),
	}
	return r
}

// fullInvalid has errors of every kind, several per object.
func fullInvalid() Resources {
	r := fullValid()
	r.Pools = append(r.Pools, pool("overlap", "192.0.2.10/32", "garbage", "192.0.2.11/32"), pool("web", "203.0.113.128/25"))
	r.BGPPeers = append(r.BGPPeers, with(peer("bad", "192.0.2.254", 0, 64501), func(p *v1beta1.BGPPeer) {
		p.Spec.BFDProfile = "nope"
		p.Spec.HoldTime = dur("1s")
	}))
	r.L2Advertisements = append(r.L2Advertisements, l2("l2-bad", "missing", "web"))
	r.BGPAdvertisements = append(r.BGPAdvertisements, with(bgpAdv("bgp-bad", "web"), func(a *v1beta1.BGPAdvertisement) {
		a.Spec.Communities = []string{"nope", "1:70000"}
		a.Spec.AggregationLength = ptr(int32(8))
	}))
	r.BFDProfiles = append(r.BFDProfiles, with(bfd("zero"), func(b *v1beta1.BFDProfile) { b.Spec.DetectMultiplier = ptr(uint32(0)) }))
	r.Communities = append(r.Communities, communityObj("dup", "no-export", "1:1"))
	return r
}

func TestCompileFullConfig(t *testing.T) {
	cfg := checkErrs(t, fullValid())
	if got := len(cfg.Pools()); got != 4 {
		t.Errorf("%d pools", got)
	}
	if n, ok := cfg.PoolFor(netip.MustParseAddr("203.0.113.15")); !ok || n != "range" {
		t.Errorf("PoolFor = %q, %v", n, ok)
	}
	var l2Names []string
	for _, a := range cfg.L2For("api") {
		l2Names = append(l2Names, a.Name)
	}
	if !slices.Equal(l2Names, []string{"l2-all", "l2-front"}) {
		t.Errorf("L2For(api) = %v", l2Names)
	}
	if got := cfg.L2For("db"); len(got) != 1 || got[0].Name != "l2-all" {
		t.Errorf("L2For(db) = %v", got)
	}
	if got := cfg.BGPFor("web"); len(got) != 1 || got[0].Name != "bgp-all" {
		t.Errorf("BGPFor(web) = %v", got)
	}
	p, ok := cfg.BGPPeer("tor3")
	if !ok || p.BFD == nil || p.BFD.Name != "fast" {
		t.Errorf("tor3 = %+v", p)
	}
	if _, ok := cfg.BGPPeer("nope"); ok {
		t.Error("unknown peer found")
	}
	if _, ok := cfg.Pool("nope"); ok {
		t.Error("unknown pool found")
	}
}

func TestCompileEmpty(t *testing.T) {
	cfg := checkErrs(t, Resources{})
	if len(cfg.Pools()) != 0 || len(cfg.L2For("x")) != 0 {
		t.Error("empty configuration is not empty")
	}
	if _, ok := cfg.PoolFor(netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("PoolFor found a pool in an empty configuration")
	}
}

func TestCompileInvalidListsEverything(t *testing.T) {
	_, es := compileErrs(t, fullInvalid())
	// Each object is judged against the objects in force before it (by
	// name here): "overlap" fails on its own garbage entry, so it never
	// conflicts with "web"; "bad" fails on its own fields before "tor1"
	// is in force; "dup" loses the alias to "aliases".
	want := []string{
		`BFDProfile "zero": spec.detectMultiplier: 0 is out of range 2..255`,
		`BGPAdvertisement "bgp-bad": spec.aggregationLength: 8 is shorter than /24`,
		`BGPAdvertisement "bgp-bad": spec.communities[0]: "nope" is neither`,
		`BGPAdvertisement "bgp-bad": spec.communities[1]: "1:70000" is not a valid community`,
		`BGPPeer "bad": spec.bfdProfile: BFDProfile "nope" does not exist or is not in force`,
		`BGPPeer "bad": spec.holdTime: 1s must be 0 or at least 3s`,
		`BGPPeer "bad": spec.myASN: is required`,
		`Community "dup": spec.communities[0].name: alias "no-export" is also defined at Community "aliases"`,
		`IPAddressPool "overlap": spec.addresses[1]: invalid address range "garbage"`,
		`IPAddressPool "web": metadata.name: 2 objects have this name`,
		`L2Advertisement "l2-bad": spec.ipAddressPools[0]: IPAddressPool "missing" does not exist or is not in force`,
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	// Same order as the sorted Errors, with "spec.addresses[1]" (invalid
	// range) sorting after [0] and before [2].
	wantSorted := want
	if len(got) != len(wantSorted) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(wantSorted), strings.Join(got, "\n"))
	}
	for i := range got {
		if !strings.HasPrefix(got[i], wantSorted[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], wantSorted[i])
		}
	}
	if f := es.For(KindBGPPeer, "bad"); len(f) != 3 {
		t.Errorf("For(BGPPeer, bad) = %d errors, want 3", len(f))
	}
	if f := es.For(KindBGPPeer, "nobody"); f != nil {
		t.Errorf("For(nobody) = %v", f)
	}
	msg := es.Error()
	if !strings.HasPrefix(msg, "11 configuration errors:\n  BFDProfile") {
		t.Errorf("Errors.Error() = %q", msg)
	}
	var one *Error
	if !errors.As(error(es), &one) || one != es[0] {
		t.Error("errors.As does not reach the individual errors")
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Kind: KindIPAddressPool, Name: "web", Field: "spec.addresses[1]", Detail: `"192.0.2.20-192.0.2.10" is a reversed range`}
	if got, want := e.Error(), `IPAddressPool "web": spec.addresses[1]: "192.0.2.20-192.0.2.10" is a reversed range`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Field = ""
	if got, want := e.Error(), `IPAddressPool "web": "192.0.2.20-192.0.2.10" is a reversed range`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := (Errors{e}).Error(); got != e.Error() {
		t.Errorf("single Errors = %q", got)
	}
	es := sortErrors(Errors{
		{Kind: "B", Name: "a", Field: "spec.x[10]"},
		{Kind: "B", Name: "a", Field: "spec.x[9]"},
		{Kind: "A", Name: "z", Field: "spec.y"},
		{Kind: "B", Name: "a", Field: "spec.x[10]"},
		{Kind: "B", Name: "a", Field: "spec.x[10].b", Detail: "d"},
	})
	var got []string
	for _, e := range es {
		got = append(got, e.Kind+" "+e.Field)
	}
	if want := []string{"A spec.y", "B spec.x[9]", "B spec.x[10]", "B spec.x[10].b"}; !slices.Equal(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
}

var ipamRangeZero = ipam.Range{}

// shuffled returns r with every slice in a random order.
func shuffled(r Resources, rng *rand.Rand) Resources {
	r = r.clone()
	rng.Shuffle(len(r.Pools), func(i, j int) { r.Pools[i], r.Pools[j] = r.Pools[j], r.Pools[i] })
	rng.Shuffle(len(r.L2Advertisements), func(i, j int) {
		r.L2Advertisements[i], r.L2Advertisements[j] = r.L2Advertisements[j], r.L2Advertisements[i]
	})
	rng.Shuffle(len(r.BGPAdvertisements), func(i, j int) {
		r.BGPAdvertisements[i], r.BGPAdvertisements[j] = r.BGPAdvertisements[j], r.BGPAdvertisements[i]
	})
	rng.Shuffle(len(r.BGPPeers), func(i, j int) { r.BGPPeers[i], r.BGPPeers[j] = r.BGPPeers[j], r.BGPPeers[i] })
	rng.Shuffle(len(r.BFDProfiles), func(i, j int) { r.BFDProfiles[i], r.BFDProfiles[j] = r.BFDProfiles[j], r.BFDProfiles[i] })
	rng.Shuffle(len(r.Communities), func(i, j int) { r.Communities[i], r.Communities[j] = r.Communities[j], r.Communities[i] })
	return r
}

func TestCompileDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		res  Resources
	}{
		{"valid", fullValid()},
		{"invalid", fullInvalid()},
		// Duplicates with different content: which one is kept must not
		// depend on order either.
		{"duplicates", Resources{
			Pools:    []v1beta1.IPAddressPool{pool("a", "192.0.2.0/24"), pool("a", "198.51.100.0/24", "bad"), pool("b", "192.0.2.5/32")},
			BGPPeers: []v1beta1.BGPPeer{peer("p", "192.0.2.1", 1, 2), peer("p", "x", 1, 2), peer("p", "192.0.2.1", 0, 2)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg0, err0 := Compile(tc.res)
			if cfg0 == nil && err0 == nil {
				t.Fatal("nothing returned")
			}
			for range 50 {
				cfg, err := Compile(shuffled(tc.res, rng))
				if !reflect.DeepEqual(cfg, cfg0) {
					t.Fatal("Config depends on input order")
				}
				if !reflect.DeepEqual(err, err0) {
					t.Fatalf("errors depend on input order:\n%v\nvs\n%v", err, err0)
				}
			}
		})
	}
}

func TestConfigImmutable(t *testing.T) {
	in := fullValid()
	cfg := checkErrs(t, in)
	// reference is compiled from separate, identical input, so it shares
	// no memory with cfg.
	reference := checkErrs(t, fullValid())
	snapshot := func(cfg *Config) any {
		return []any{cfg.Pools(), cfg.PoolNames(), cfg.L2Advertisements(), cfg.BGPAdvertisements(), cfg.BGPPeers(),
			cfg.BFDProfiles(), cfg.L2For("web"), cfg.BGPFor("db")}
	}
	if !reflect.DeepEqual(snapshot(cfg), snapshot(reference)) {
		t.Fatal("two compilations of the same input differ")
	}

	// Mutate the input objects in place.
	in.Pools[0].Labels["tier"] = "changed"
	in.Pools[0].Spec.Addresses[0] = "203.0.113.0/24"
	in.Pools[0].Spec.ServiceAllocation.Namespaces[0] = "changed"
	in.L2Advertisements[1].Spec.Interfaces[0] = "changed"
	in.BGPAdvertisements[0].Spec.Peers[0] = "changed"
	in.BGPPeers[2].Spec.NodeSelectors[0].MatchLabels["rack"] = "changed"
	*in.BFDProfiles[1].Spec.ReceiveInterval = 10
	in.Communities[0].Spec.Communities[0].Value = "1:1"

	// Mutate everything the accessors return.
	for _, p := range cfg.Pools() {
		if p.Labels != nil {
			p.Labels["x"] = "y"
		}
		if len(p.IPv4) > 0 {
			p.IPv4[0] = ipamRangeZero
		}
		if p.Allocation != nil {
			p.Allocation.Namespaces[0] = "changed"
			p.Allocation.Priority = 99
		}
	}
	if p, ok := cfg.Pool("db"); ok {
		p.IPv6[0].First = netip.MustParseAddr("::")
	}
	for _, a := range cfg.L2For("web") {
		a.Pools[0] = "changed"
		a.Interfaces = append(a.Interfaces[:0], "changed")
	}
	for _, a := range cfg.BGPFor("db") {
		if len(a.Communities) > 0 {
			a.Communities[0] = 0
			a.Peers[0] = "changed"
		}
	}
	for _, p := range cfg.BGPPeers() {
		if p.BFD != nil {
			p.BFD.DetectMultiplier = 200
		}
		p.NodeSelectors = nil
	}
	cfg.PoolNames()[0] = "changed"
	cfg.BFDProfiles()[0].Name = "changed"

	if before, after := snapshot(reference), snapshot(cfg); !reflect.DeepEqual(before, after) {
		t.Errorf("Config changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
