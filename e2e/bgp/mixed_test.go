package bgp_test

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
)

// Layer 2 and BGP run side by side, each for its own pools.
func TestLayer2AndBGPPoolsSideBySide(t *testing.T) {
	c, r := bgpCluster(t, false, v1beta1.BGPAdvertisementSpec{})
	c.Create(t,
		cluster.Pool("lan", "203.0.113.0/25"),
		cluster.L2("lan", []string{"lan"}, "eth0"),
	)
	routed := cluster.LoadBalancer("default", "routed", func(s *corev1.Service) { annotate(s, "ironlb.io/address-pool", "bgp") })
	onLink := cluster.LoadBalancer("default", "onlink", func(s *corev1.Service) { annotate(s, "ironlb.io/address-pool", "lan") })
	c.Create(t, routed, onLink)
	ep := cluster.Endpoint{Node: "node2", Addr: netip.MustParseAddr("192.0.2.36"), Ready: true}
	c.SetEndpoints(t, "default", "routed", ep)
	c.SetEndpoints(t, "default", "onlink", ep)

	bgpIP := c.WaitForIPs(t, "default", "routed", 1)[0]
	l2IP := c.WaitForIPs(t, "default", "onlink", 1)[0]
	waitNextHops(t, r, netip.PrefixFrom(bgpIP, 32), nodeAddrs(c, false, "node1", "node2", "node3"))
	c.WaitForAnnouncer(t, "default", "onlink", l2IP, func(string) bool { return true })

	// Each mode keeps to its own pool.
	if _, ok, _ := r.Route(t.Context(), netip.PrefixFrom(l2IP, 32)); ok {
		t.Errorf("the layer 2 address %s was advertised over BGP", l2IP)
	}
	if st := c.L2Status(t, "default", "routed", bgpIP); st != nil {
		t.Errorf("the BGP address %s has a layer 2 status: %+v", bgpIP, st.Status)
	}
}

func annotate(s *corev1.Service, k, v string) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[k] = v
}
