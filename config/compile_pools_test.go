package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
)

const kp = KindIPAddressPool

func TestCompilePoolValid(t *testing.T) {
	p := labeledPool("web", map[string]string{"tier": "web"},
		"2001:db8:1::/64", "192.0.2.128/25", "192.0.2.10-192.0.2.20", "2001:db8::1-2001:db8::5")
	p.Spec.AvoidBuggyIPs = true
	p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		Priority:           5,
		Namespaces:         []string{"team-b", "team-a"},
		NamespaceSelectors: []metav1.LabelSelector{sel("env", "prod")},
		ServiceSelectors:   []metav1.LabelSelector{sel("app", "shop")},
	}
	off := with(pool("manual", "198.51.100.0/24"), func(p *v1beta1.IPAddressPool) { p.Spec.AutoAssign = ptr(false) })
	cfg := checkErrs(t, Resources{Pools: []v1beta1.IPAddressPool{p, off}})

	got, ok := cfg.Pool("web")
	if !ok {
		t.Fatal(`pool "web" missing`)
	}
	r := func(s string) ipam.Range {
		x, err := ipam.ParseRange(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	want := Pool{
		Name:          "web",
		Labels:        map[string]string{"tier": "web"},
		IPv4:          []ipam.Range{r("192.0.2.10-192.0.2.20"), r("192.0.2.128/25")},
		IPv6:          []ipam.Range{r("2001:db8::1-2001:db8::5"), r("2001:db8:1::/64")},
		AutoAssign:    true,
		AvoidBuggyIPs: true,
	}
	alloc := got.Allocation
	got.Allocation = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pool web:\n got %+v\nwant %+v", got, want)
	}
	if alloc == nil || alloc.Priority != 5 || !reflect.DeepEqual(alloc.Namespaces, []string{"team-a", "team-b"}) ||
		len(alloc.NamespaceSelectors) != 1 || alloc.NamespaceSelectors[0].String() != "env=prod" ||
		len(alloc.ServiceSelectors) != 1 || alloc.ServiceSelectors[0].String() != "app=shop" {
		t.Errorf("allocation = %+v", alloc)
	}
	if m, _ := cfg.Pool("manual"); m.AutoAssign || m.Allocation != nil {
		t.Errorf("pool manual: autoAssign %v allocation %v, want false, nil", m.AutoAssign, m.Allocation)
	}
	if names := cfg.PoolNames(); !reflect.DeepEqual(names, []string{"manual", "web"}) {
		t.Errorf("PoolNames = %v", names)
	}
}

func TestCompilePoolRules(t *testing.T) {
	pools := func(ps ...v1beta1.IPAddressPool) Resources { return Resources{Pools: ps} }
	alloc := func(p v1beta1.IPAddressPool, a v1beta1.ServiceAllocation) v1beta1.IPAddressPool {
		p.Spec.ServiceAllocation = &a
		return p
	}
	many := make([]string, 129)
	for i := range many {
		many[i] = fmt.Sprintf("2001:db8::%x/128", i)
	}
	manyNS := make([]string, 257)
	for i := range manyNS {
		manyNS[i] = fmt.Sprintf("ns%d", i)
	}
	runRules(t, []ruleCase{
		{"adjacent ranges are fine", pools(pool("a", "192.0.2.0/25", "192.0.2.128-192.0.2.255"), pool("b", "198.51.100.0/24")), nil},
		{"no addresses", pools(pool("a")), []wantErr{{kp, "a", "spec.addresses", "at least one"}}},
		{"garbage", pools(pool("a", "192.0.2.0/24", "not-an-ip")), []wantErr{{kp, "a", "spec.addresses[1]", `"not-an-ip"`}}},
		{"reversed range", pools(pool("web", "192.0.2.0/25", "192.0.2.200-192.0.2.150")),
			[]wantErr{{kp, "web", "spec.addresses[1]", "is after end"}}},
		{"host bits", pools(pool("a", "192.0.2.1/24")), []wantErr{{kp, "a", "spec.addresses[0]", "host bits"}}},
		{"mixed family", pools(pool("a", "192.0.2.1-2001:db8::1")), []wantErr{{kp, "a", "spec.addresses[0]", "IPv4"}}},
		{"bare address", pools(pool("a", "192.0.2.1")), []wantErr{{kp, "a", "spec.addresses[0]", "192.0.2.1/32"}}},
		{"too many addresses", pools(pool("a", many...)), []wantErr{{kp, "a", "spec.addresses", "129 items, at most 128"}}},
		{"address too long", pools(pool("a", strings.Repeat("1", 101))), []wantErr{{kp, "a", "spec.addresses[0]", "101 characters"}}},
		{"overlap within a pool", pools(pool("a", "192.0.2.0/24", "198.51.100.0/24", "192.0.2.128/25")),
			[]wantErr{{kp, "a", "spec.addresses[2]", `"192.0.2.128/25" overlaps spec.addresses[0] "192.0.2.0/24" of the same pool`}}},
		{"same range twice in a pool", pools(pool("a", "192.0.2.0/24", "192.0.2.0/24")),
			[]wantErr{{kp, "a", "spec.addresses[1]", "overlaps spec.addresses[0]"}}},
		// Of two overlapping pools the one sorted first (here: by name,
		// neither having a creation time or a last valid spec) stays;
		// the other is invalid and names what it overlaps.
		{"overlap across pools: the later pool is invalid", pools(pool("a", "198.51.100.0/24", "192.0.2.0/24"), pool("b", "192.0.2.100-192.0.2.110")),
			[]wantErr{
				{kp, "b", "spec.addresses[0]", `"192.0.2.100-192.0.2.110" overlaps IPAddressPool "a" spec.addresses[1] "192.0.2.0/24", which is in use`},
			}},
		{"overlap IPv6", pools(pool("a", "2001:db8::/64"), pool("b", "2001:db8::ff/128")),
			[]wantErr{{kp, "b", "spec.addresses[0]", `IPAddressPool "a"`}}},
		{"v4 and v6 never overlap", pools(pool("a", "0.0.0.0/0"), pool("b", "2001:db8::/32")), nil},
		{"chain of overlaps reports every range", pools(pool("a", "192.0.2.0/24"), pool("b", "192.0.2.10/32"), pool("c", "192.0.2.20/32")),
			[]wantErr{
				{kp, "b", "spec.addresses[0]", `"a"`},
				{kp, "c", "spec.addresses[0]", `"a"`},
			}},
		{"negative priority", pools(alloc(pool("a", "192.0.2.0/24"), v1beta1.ServiceAllocation{Priority: -1})),
			[]wantErr{{kp, "a", "spec.serviceAllocation.priority", "negative"}}},
		{"namespace not a DNS label", pools(alloc(pool("a", "192.0.2.0/24"), v1beta1.ServiceAllocation{Namespaces: []string{"ok", "Not_OK"}})),
			[]wantErr{{kp, "a", "spec.serviceAllocation.namespaces[1]", `"Not_OK" is not a valid namespace name`}}},
		{"namespace twice", pools(alloc(pool("a", "192.0.2.0/24"), v1beta1.ServiceAllocation{Namespaces: []string{"x", "y", "x"}})),
			[]wantErr{{kp, "a", "spec.serviceAllocation.namespaces[2]", "listed twice (also at spec.serviceAllocation.namespaces[0])"}}},
		{"too many namespaces", pools(alloc(pool("a", "192.0.2.0/24"), v1beta1.ServiceAllocation{Namespaces: manyNS})),
			[]wantErr{{kp, "a", "spec.serviceAllocation.namespaces", "257 items"}}},
		{"bad namespace selector", pools(alloc(pool("a", "192.0.2.0/24"), v1beta1.ServiceAllocation{
			NamespaceSelectors: []metav1.LabelSelector{sel("a", "b"), badSelector}})),
			[]wantErr{{kp, "a", "spec.serviceAllocation.namespaceSelectors[1]", "invalid label selector"}}},
		{"bad service selector", pools(alloc(pool("a", "192.0.2.0/24"), v1beta1.ServiceAllocation{
			ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"bad key!": "x"}}}})),
			[]wantErr{{kp, "a", "spec.serviceAllocation.serviceSelectors[0]", "invalid label selector"}}},
		{"duplicate names", pools(pool("a", "192.0.2.0/25"), pool("a", "192.0.2.128/25")),
			[]wantErr{{kp, "a", "metadata.name", "2 objects have this name"}}},
		{"empty name", pools(pool("", "192.0.2.0/25")), []wantErr{{kp, "", "metadata.name", "is required"}}},
		{"invalid name", pools(pool("Web_1", "192.0.2.0/25")), []wantErr{{kp, "Web_1", "metadata.name", "not a valid name"}}},
	})
}

func TestPoolFor(t *testing.T) {
	a := labeledPool("a", nil, "192.0.2.0/25", "2001:db8::/126")
	a.Spec.AvoidBuggyIPs = true
	a.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		Priority: 2, Namespaces: []string{"shop"},
		NamespaceSelectors: []metav1.LabelSelector{sel("env", "prod")},
		ServiceSelectors:   []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"x", "y"}}}}},
	}
	b := with(pool("b", "192.0.2.200-192.0.2.210", "198.51.100.0/24"), func(p *v1beta1.IPAddressPool) { p.Spec.AutoAssign = ptr(false) })
	cfg := checkErrs(t, Resources{Pools: []v1beta1.IPAddressPool{b, a}})

	for _, tc := range []struct {
		ip   string
		want string
	}{
		{"192.0.2.0", "a"}, {"192.0.2.127", "a"}, {"192.0.2.128", ""}, {"192.0.2.199", ""},
		{"192.0.2.200", "b"}, {"192.0.2.210", "b"}, {"192.0.2.211", ""}, {"198.51.100.255", "b"},
		{"203.0.113.1", ""}, {"2001:db8::3", "a"}, {"2001:db8::4", ""}, {"::ffff:192.0.2.1", ""},
		{"fe80::1%eth0", ""}, {"127.0.0.1", ""},
	} {
		got, ok := cfg.PoolFor(netip.MustParseAddr(tc.ip))
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("PoolFor(%s) = %q, %v; want %q", tc.ip, got, ok, tc.want)
		}
	}
	if _, ok := cfg.PoolFor(netip.Addr{}); ok {
		t.Error("PoolFor(zero Addr) found a pool")
	}

}

func TestWidestPrefix(t *testing.T) {
	for _, tc := range []struct {
		first, last string
		want        int
	}{
		{"192.0.2.0", "192.0.2.255", 24},
		{"192.0.2.7", "192.0.2.7", 32},
		{"0.0.0.0", "255.255.255.255", 0},
		{"192.0.2.10", "192.0.2.20", 30},
		{"192.0.2.1", "192.0.2.254", 26},
		{"192.0.2.255", "192.0.3.0", 32},
		{"2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", 64},
		{"2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff", 65},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
		{"::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 2},
	} {
		r := ipam.Range{First: netip.MustParseAddr(tc.first), Last: netip.MustParseAddr(tc.last)}
		if got := widestPrefix(r); got != tc.want {
			t.Errorf("widestPrefix(%s) = %d, want %d", r, got, tc.want)
		}
	}
}

// TestWidestPrefixExhaustive compares widestPrefix with a naive
// decomposition for every range inside 192.0.2.0/24.
func TestWidestPrefixExhaustive(t *testing.T) {
	naive := func(r ipam.Range) int {
		widest, cur := 32, r.First
		for {
			for b := 0; b <= 32; b++ {
				p := netip.PrefixFrom(cur, b)
				if p.Masked().Addr() == cur && !r.Last.Less(lastAddr(p)) {
					widest = min(widest, b)
					cur = lastAddr(p)
					break
				}
			}
			if cur == r.Last {
				return widest
			}
			cur = cur.Next()
		}
	}
	base := netip.MustParseAddr("192.0.2.0").As4()
	for f := 0; f < 256; f++ {
		for l := f; l < 256; l++ {
			a, b := base, base
			a[3], b[3] = byte(f), byte(l)
			r := ipam.Range{First: netip.AddrFrom4(a), Last: netip.AddrFrom4(b)}
			if got, want := widestPrefix(r), naive(r); got != want {
				t.Fatalf("widestPrefix(%s) = %d, want %d", r, got, want)
			}
		}
	}
}
