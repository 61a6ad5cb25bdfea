package config

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// accepted marks a pool as the controller leaves it after a valid compile:
// its spec recorded as the last valid one.
func accepted(p v1beta1.IPAddressPool) v1beta1.IPAddressPool {
	p.Status.LastValidSpec = p.Spec.DeepCopy()
	return p
}

// editedTo returns p with a new spec, keeping its last valid one.
func editedTo(p v1beta1.IPAddressPool, addrs ...string) v1beta1.IPAddressPool {
	p.Spec.Addresses = addrs
	return p
}

func created(p v1beta1.IPAddressPool, minute int) v1beta1.IPAddressPool {
	p.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC))
	return p
}

// TestPerObjectValidity checks, for each kind of problem, which objects stay
// in force and which spec of them.
func TestPerObjectValidity(t *testing.T) {
	type want struct {
		kind, name string
		inForce    InForce
		partial    bool
		valid      bool
	}
	type check struct {
		addr string // an address and the pool it must map to ("" = none)
		pool string
	}
	a := accepted(created(pool("a", "192.0.2.0/26"), 1))
	b := accepted(created(pool("b", "198.51.100.0/24"), 2))
	for _, tc := range []struct {
		name   string
		res    Resources
		states []want
		checks []check
	}{
		{
			name: "a new pool overlapping one in force is invalid alone",
			res:  Resources{Pools: []v1beta1.IPAddressPool{a, b, created(pool("new", "192.0.2.0/24"), 3)}},
			states: []want{
				{KindIPAddressPool, "a", InForceSpec, false, true},
				{KindIPAddressPool, "b", InForceSpec, false, true},
				{KindIPAddressPool, "new", InForceNone, false, false},
			},
			checks: []check{{"192.0.2.1", "a"}, {"198.51.100.1", "b"}, {"192.0.2.100", ""}},
		},
		{
			// The older pool is edited to overlap a newer one: the edit
			// loses, not the newer pool that is running unchanged.
			name: "an edit that overlaps keeps the last valid spec",
			res:  Resources{Pools: []v1beta1.IPAddressPool{editedTo(a, "198.51.100.0/25"), b}},
			states: []want{
				{KindIPAddressPool, "a", InForceLastValid, false, false},
				{KindIPAddressPool, "b", InForceSpec, false, true},
			},
			checks: []check{{"192.0.2.1", "a"}, {"198.51.100.1", "b"}},
		},
		{
			name:   "a malformed edit keeps the last valid spec",
			res:    Resources{Pools: []v1beta1.IPAddressPool{editedTo(a, "garbage"), b}},
			states: []want{{KindIPAddressPool, "a", InForceLastValid, false, false}},
			checks: []check{{"192.0.2.1", "a"}},
		},
		{
			name:   "a valid edit replaces the last valid spec",
			res:    Resources{Pools: []v1beta1.IPAddressPool{editedTo(a, "203.0.113.0/24"), b}},
			states: []want{{KindIPAddressPool, "a", InForceSpec, false, true}},
			checks: []check{{"192.0.2.1", ""}, {"203.0.113.1", "a"}},
		},
		{
			// Without any status (the webhook bypassed on a new cluster),
			// the older pool wins.
			name: "without status the older pool wins",
			res:  Resources{Pools: []v1beta1.IPAddressPool{created(pool("z-old", "192.0.2.0/24"), 1), created(pool("a-new", "192.0.2.0/25"), 2)}},
			states: []want{
				{KindIPAddressPool, "z-old", InForceSpec, false, true},
				{KindIPAddressPool, "a-new", InForceNone, false, false},
			},
			checks: []check{{"192.0.2.1", "z-old"}},
		},
		{
			name: "an advertisement edited to a missing pool keeps its last valid spec",
			res: Resources{
				Pools: []v1beta1.IPAddressPool{a},
				L2Advertisements: []v1beta1.L2Advertisement{with(l2("adv", "missing"), func(x *v1beta1.L2Advertisement) {
					x.Status.LastValidSpec = &v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"a"}}
				})},
			},
			states: []want{{KindL2Advertisement, "adv", InForceLastValid, false, false}},
		},
		{
			// A referenced pool deleted: the advertisement goes on for
			// the pools that remain.
			name: "a deleted pool leaves the advertisement working for the others",
			res: Resources{
				Pools: []v1beta1.IPAddressPool{a},
				L2Advertisements: []v1beta1.L2Advertisement{with(l2("adv", "a", "gone"), func(x *v1beta1.L2Advertisement) {
					x.Status.LastValidSpec = x.Spec.DeepCopy()
				})},
			},
			states: []want{{KindL2Advertisement, "adv", InForceLastValid, true, false}},
		},
		{
			name: "a new advertisement naming a missing pool works for the pools that exist",
			res: Resources{
				Pools:            []v1beta1.IPAddressPool{a},
				L2Advertisements: []v1beta1.L2Advertisement{l2("adv", "a", "typo")},
			},
			states: []want{{KindL2Advertisement, "adv", InForceSpec, true, false}},
		},
		{
			name: "a peer whose BFD profile is invalid runs without BFD",
			res: Resources{
				BFDProfiles: []v1beta1.BFDProfile{with(bfd("fast"), func(b *v1beta1.BFDProfile) { b.Spec.DetectMultiplier = ptr(uint32(1)) })},
				BGPPeers:    []v1beta1.BGPPeer{with(peer("tor", "192.0.2.254", 64500, 64501), func(p *v1beta1.BGPPeer) { p.Spec.BFDProfile = "fast" })},
			},
			states: []want{
				{KindBFDProfile, "fast", InForceNone, false, false},
				{KindBGPPeer, "tor", InForceSpec, true, false},
			},
		},
		{
			name: "a peer for the same neighbour as a peer in force is invalid alone",
			res: Resources{BGPPeers: []v1beta1.BGPPeer{
				with(peer("z-old", "192.0.2.254", 64500, 64501), func(p *v1beta1.BGPPeer) {
					p.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
				}),
				peer("a-new", "192.0.2.254", 64500, 64502),
			}},
			states: []want{
				{KindBGPPeer, "z-old", InForceSpec, false, true},
				{KindBGPPeer, "a-new", InForceNone, false, false},
			},
		},
		{
			name: "a peer with ASN 0 and no last valid spec is not used",
			res:  Resources{BGPPeers: []v1beta1.BGPPeer{peer("p", "192.0.2.254", 0, 64501)}},
			states: []want{
				{KindBGPPeer, "p", InForceNone, false, false},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := Compile(tc.res)
			for _, w := range tc.states {
				st, ok := cfg.State(w.kind, w.name)
				if !ok {
					t.Fatalf("no state for %s %q", w.kind, w.name)
				}
				if st.InForce != w.inForce || st.Partial != w.partial || st.Valid() != w.valid {
					t.Errorf("%s %q: in force %v, partial %v, valid %v (errors %v); want %v, %v, %v",
						w.kind, w.name, st.InForce, st.Partial, st.Valid(), st.Errors, w.inForce, w.partial, w.valid)
				}
				if !st.Valid() && st.Summary() == "" {
					t.Errorf("%s %q: invalid with no summary", w.kind, w.name)
				}
			}
			for _, c := range tc.checks {
				got, _ := cfg.PoolFor(netip.MustParseAddr(c.addr))
				if got != c.pool {
					t.Errorf("PoolFor(%s) = %q, want %q", c.addr, got, c.pool)
				}
			}
		})
	}
}

// TestPartialAdvertisementCoversWhatResolves checks what a partial
// advertisement does: the pools that resolve, never "every pool".
func TestPartialAdvertisementCoversWhatResolves(t *testing.T) {
	res := Resources{
		Pools: []v1beta1.IPAddressPool{pool("a", "192.0.2.0/24"), pool("b", "198.51.100.0/24")},
		L2Advertisements: []v1beta1.L2Advertisement{
			l2("some", "a", "gone"),
			l2("none", "gone"),
		},
		BGPPeers: []v1beta1.BGPPeer{peer("tor", "192.0.2.254", 64500, 64501)},
		BGPAdvertisements: []v1beta1.BGPAdvertisement{with(bgpAdv("to-missing-peer", "a"), func(x *v1beta1.BGPAdvertisement) {
			x.Spec.Peers = []string{"gone"}
		})},
	}
	cfg, errs := Compile(res)
	if len(errs) != 3 {
		t.Fatalf("errors %v, want one per missing reference", errs)
	}
	if got := names(cfg.L2For("a")); !slices.Equal(got, []string{"some"}) {
		t.Errorf("L2For(a) = %v", got)
	}
	if got := names(cfg.L2For("b")); len(got) != 0 {
		t.Errorf("L2For(b) = %v: an advertisement whose named pools are all gone must cover nothing", got)
	}
	adv := cfg.BGPFor("a")
	if len(adv) != 1 || adv[0].SelectsPeer("tor") {
		t.Errorf("BGPFor(a) = %+v: an advertisement naming only a missing peer must select no peer", adv)
	}
}

func names(as []L2Advertisement) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}
