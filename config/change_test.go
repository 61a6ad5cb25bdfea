package config

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

func TestValidateChange(t *testing.T) {
	base := Resources{
		Pools:            []v1beta1.IPAddressPool{pool("a", "192.0.2.0/25"), pool("b", "198.51.100.0/24")},
		L2Advertisements: []v1beta1.L2Advertisement{l2("adv", "b")},
	}
	// broken already has an error (pool "bad"); changes elsewhere must
	// not be blamed for it.
	broken := base.With(ptr(pool("bad", "192.0.2.200-192.0.2.100", "198.51.100.7/32")))

	for _, tc := range []struct {
		name          string
		before, after Resources
		want          []wantErr
	}{
		{"valid change", base, base.With(ptr(pool("c", "203.0.113.0/24"))), nil},
		{"new overlapping pool", base, base.With(ptr(pool("c", "192.0.2.64/26"))), []wantErr{
			{kp, "c", "spec.addresses[0]", `overlaps IPAddressPool "a"`},
		}},
		{"update introduces an error", base, base.With(ptr(pool("a", "192.0.2.0/25", "nonsense"))),
			[]wantErr{{kp, "a", "spec.addresses[1]", "nonsense"}}},
		{"deleting a referenced pool breaks another object", base, base.Without(KindIPAddressPool, "b"),
			[]wantErr{{kl2, "adv", "spec.ipAddressPools[0]", `IPAddressPool "b" does not exist or is not in force`}}},
		{"existing errors are not blamed on an unrelated change", broken, broken.With(ptr(pool("c", "203.0.113.0/24"))), nil},
		{"fixing one error while others remain", broken, broken.With(ptr(pool("bad", "192.0.2.200-192.0.2.100"))), nil},
		{"index shift of an old error is not new", broken,
			broken.With(ptr(pool("bad", "203.0.113.0/24", "192.0.2.200-192.0.2.100", "198.51.100.7/32"))), nil},
		{"a second copy of an old error is new", broken,
			broken.With(ptr(pool("bad", "192.0.2.200-192.0.2.100", "198.51.100.7/32", "192.0.2.201-192.0.2.101"))),
			[]wantErr{{kp, "bad", "spec.addresses[2]", "192.0.2.201"}}},
		{"fixing everything", broken, base, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateChange(tc.before, tc.after)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.kind || g.Name != w.name || g.Field != w.field || !strings.Contains(g.Detail, w.detail) {
					t.Errorf("error %d = %v, want %v", i, g, w)
				}
			}
		})
	}
	if _, err := Compile(broken); err == nil {
		t.Fatal("the broken base compiles; the test cases above prove nothing")
	}
}

func TestWithWithout(t *testing.T) {
	orig := Resources{Pools: []v1beta1.IPAddressPool{pool("a", "192.0.2.0/24"), pool("b", "198.51.100.0/24")}}
	snapshot := orig.clone()

	added := orig.With(ptr(pool("c", "203.0.113.0/24")))
	replaced := orig.With(ptr(pool("a", "192.0.2.0/25")))
	removed := orig.Without(KindIPAddressPool, "a")
	other := orig.With(&corev1.Service{})
	obj := ptr(pool("d", "203.0.113.0/25"))
	withD := orig.With(obj)
	obj.Spec.Addresses[0] = "changed"

	if !reflect.DeepEqual(orig, snapshot) {
		t.Fatal("With/Without modified the receiver")
	}
	names := func(r Resources) (out []string) {
		for _, p := range r.Pools {
			out = append(out, p.Name+"="+p.Spec.Addresses[0])
		}
		return out
	}
	for _, tc := range []struct {
		got  Resources
		want []string
	}{
		{added, []string{"a=192.0.2.0/24", "b=198.51.100.0/24", "c=203.0.113.0/24"}},
		{replaced, []string{"b=198.51.100.0/24", "a=192.0.2.0/25"}},
		{removed, []string{"b=198.51.100.0/24"}},
		{other, []string{"a=192.0.2.0/24", "b=198.51.100.0/24"}},
		{withD, []string{"a=192.0.2.0/24", "b=198.51.100.0/24", "d=203.0.113.0/25"}},
	} {
		if got := names(tc.got); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("got %v, want %v", got, tc.want)
		}
	}

	// Every kind.
	r := Resources{}.
		With(ptr(l2("l2"))).With(ptr(bgpAdv("bgp"))).With(ptr(peer("p", "192.0.2.1", 1, 2))).
		With(ptr(bfd("b"))).With(ptr(communityObj("c")))
	if len(r.L2Advertisements)+len(r.BGPAdvertisements)+len(r.BGPPeers)+len(r.BFDProfiles)+len(r.Communities) != 5 {
		t.Fatalf("With did not add every kind: %+v", r)
	}
	r = r.Without(KindL2Advertisement, "l2").Without(KindBGPAdvertisement, "bgp").Without(KindBGPPeer, "p").
		Without(KindBFDProfile, "b").Without(KindCommunity, "c").Without("Unknown", "x")
	if len(r.L2Advertisements)+len(r.BGPAdvertisements)+len(r.BGPPeers)+len(r.BFDProfiles)+len(r.Communities) != 0 {
		t.Fatalf("Without did not remove every kind: %+v", r)
	}
}
