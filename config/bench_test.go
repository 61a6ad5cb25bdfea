package config

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// benchResources is a large configuration: 1,000 pools (a /28 and a /124
// each, four tiers of labels), 50 L2 and 50 BGP advertisements (half by
// name, half by selector), 20 peers and aliases.
func benchResources() Resources {
	var r Resources
	for i := range 1000 {
		p := labeledPool(fmt.Sprintf("pool-%04d", i), map[string]string{"tier": fmt.Sprint(i % 4)},
			fmt.Sprintf("10.%d.%d.0/28", i/256, i%256),
			fmt.Sprintf("2001:db8::%x:0/124", i))
		if i%3 == 0 {
			p.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
				Priority:         int32(i % 7),
				Namespaces:       []string{"ns-a", "ns-b"},
				ServiceSelectors: []metav1.LabelSelector{sel("app", fmt.Sprint(i))},
			}
		}
		r.Pools = append(r.Pools, p)
	}
	for i := range 20 {
		r.BGPPeers = append(r.BGPPeers, with(peer(fmt.Sprintf("peer-%d", i), fmt.Sprintf("192.0.2.%d", i+1), 64500, 64501), func(p *v1beta1.BGPPeer) {
			p.Spec.NodeSelectors = []metav1.LabelSelector{sel("rack", fmt.Sprint(i))}
		}))
	}
	r.Communities = []v1beta1.Community{communityObj("c", "no-export", "65535:65281", "big", "large:1:2:3")}
	for i := range 50 {
		a := l2(fmt.Sprintf("l2-%d", i))
		b := bgpAdv(fmt.Sprintf("bgp-%d", i))
		if i%2 == 0 {
			names := []string{fmt.Sprintf("pool-%04d", i*20), fmt.Sprintf("pool-%04d", i*20+1)}
			a.Spec.IPAddressPools, b.Spec.IPAddressPools = names, names
		} else {
			s := []metav1.LabelSelector{sel("tier", fmt.Sprint(i%4))}
			a.Spec.IPAddressPoolSelectors, b.Spec.IPAddressPoolSelectors = s, s
		}
		a.Spec.NodeSelectors = []metav1.LabelSelector{sel("zone", fmt.Sprint(i%3))}
		b.Spec.Communities = []string{"no-export", "big", "64500:1"}
		b.Spec.Peers = []string{fmt.Sprintf("peer-%d", i%20)}
		b.Spec.AggregationLength = ptr(int32(28))
		r.L2Advertisements = append(r.L2Advertisements, a)
		r.BGPAdvertisements = append(r.BGPAdvertisements, b)
	}
	return r
}

func BenchmarkCompile(b *testing.B) {
	r := benchResources()
	if _, err := Compile(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(r); err != nil {
			b.Fatal(err)
		}
	}
}
