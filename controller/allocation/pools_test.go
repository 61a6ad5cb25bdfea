package allocation

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
)

func TestIPAMPools(t *testing.T) {
	a := v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.0/25", "2001:db8::/126"}}}
	a.Spec.AvoidBuggyIPs = true
	a.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		Priority: 2, Namespaces: []string{"shop"},
		NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
		ServiceSelectors:   []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"x", "y"}}}}},
	}
	b := v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.200-192.0.2.210", "198.51.100.0/24"}, AutoAssign: new(bool)}}
	cfg, errs := config.Compile(config.Resources{Pools: []v1beta1.IPAddressPool{b, a}})
	if errs != nil {
		t.Fatal(errs)
	}

	ip := IPAMPools(cfg)
	if len(ip) != 2 || ip[0].Name != "a" || ip[1].Name != "b" {
		t.Fatalf("IPAMPools names = %+v", ip)
	}
	if err := ipam.ValidatePools(ip); err != nil {
		t.Errorf("ipam.ValidatePools: %v", err)
	}
	pa, pb := ip[0], ip[1]
	if !pa.AutoAssign || !pa.AvoidBuggyIPs || pb.AutoAssign || pb.Allocation != nil {
		t.Errorf("flags: a=%+v b=%+v", pa, pb)
	}
	if len(pa.Ranges) != 2 || pa.Ranges[0].String() != "192.0.2.0/25" || pa.Ranges[1].String() != "2001:db8::/126" {
		t.Errorf("a ranges = %v", pa.Ranges)
	}
	pol := pa.Allocation
	if pol == nil || pol.Priority != 2 || !reflect.DeepEqual(pol.Namespaces, []string{"shop"}) ||
		len(pol.NamespaceSelectors) != 1 || len(pol.ServiceSelectors) != 1 {
		t.Fatalf("a allocation = %+v", pol)
	}
	for _, tc := range []struct {
		s    ipam.Selector
		l    map[string]string
		want bool
	}{
		{pol.NamespaceSelectors[0], map[string]string{"env": "prod"}, true},
		{pol.NamespaceSelectors[0], map[string]string{"env": "dev"}, false},
		{pol.NamespaceSelectors[0], nil, false},
		{pol.ServiceSelectors[0], map[string]string{"app": "y", "x": "z"}, true},
		{pol.ServiceSelectors[0], map[string]string{"app": "z"}, false},
	} {
		if got := tc.s.Matches(tc.l); got != tc.want {
			t.Errorf("%v.Matches(%v) = %v, want %v", tc.s, tc.l, got, tc.want)
		}
	}
}

// IPAMPools hands out fresh values: changing them changes neither the
// configuration nor the next call's result.
func TestIPAMPoolsAreFresh(t *testing.T) {
	p := v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.IPAddressPoolSpec{
		Addresses:         []string{"192.0.2.0/25", "2001:db8::/126"},
		ServiceAllocation: &v1beta1.ServiceAllocation{Namespaces: []string{"shop"}},
	}}
	cfg, errs := config.Compile(config.Resources{Pools: []v1beta1.IPAddressPool{p}})
	if errs != nil {
		t.Fatal(errs)
	}
	before := IPAMPools(cfg)
	for _, p := range IPAMPools(cfg) {
		p.Ranges[0] = p.Ranges[len(p.Ranges)-1]
		p.Allocation.Namespaces[0] = "changed"
	}
	if after := IPAMPools(cfg); !reflect.DeepEqual(before, after) {
		t.Errorf("IPAMPools changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := cfg.Pools()[0]; got.Allocation.Namespaces[0] != "shop" || got.Ranges()[0].String() != "192.0.2.0/25" {
		t.Errorf("config changed: %+v", got)
	}
}
