package bgp_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

// Two Services from one pool, one labelled tier=gold: the advertisements'
// serviceSelectors give the gold one its own community and its own peer
// (the session of node1 only), the other a community of its own and every
// node's session. Relabelled, the Service's route follows at once.
func TestServiceSelectorsGiveOneServiceItsOwnCommunityAndPeers(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Router: true})
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors, frr.Neighbor{Address: n.IPv4.Addr(), ASN: clusterASN})
	}
	r := frr.New(t, c.Lab.Router, frr.Options{ASN: routerASN, RouterID: c.Lab.Router.IPv4.Addr(), Neighbors: neighbors, MaximumPaths: 8})
	router := c.Lab.Router.IPv4.Addr().String()
	onNodes := func(names ...string) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "kubernetes.io/hostname", Operator: metav1.LabelSelectorOpIn, Values: names}}}}
	}
	tier := func(op metav1.LabelSelectorOperator) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: op, Values: []string{"gold"}}}}}
	}
	c.Create(t,
		cluster.Pool("bgp", "203.0.113.128/25"),
		// One router, two BGPPeers: node1's session and the others'.
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-a"}, Spec: v1beta1.BGPPeerSpec{
			MyASN: clusterASN, ASN: routerASN, Address: router, NodeSelectors: onNodes("node1")}},
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-b"}, Spec: v1beta1.BGPPeerSpec{
			MyASN: clusterASN, ASN: routerASN, Address: router, NodeSelectors: onNodes("node2", "node3")}},
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "gold"}, Spec: v1beta1.BGPAdvertisementSpec{
			IPAddressPools: []string{"bgp"}, ServiceSelectors: tier(metav1.LabelSelectorOpIn),
			Communities: []string{"64512:200"}, Peers: []string{"tor-a"}}},
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "others"}, Spec: v1beta1.BGPAdvertisementSpec{
			IPAddressPools: []string{"bgp"}, ServiceSelectors: tier(metav1.LabelSelectorOpNotIn),
			Communities: []string{"64512:100"}}},
	)
	gold := cluster.LoadBalancer("default", "gold", func(s *corev1.Service) { s.Labels = map[string]string{"tier": "gold"} })
	c.Create(t, gold, cluster.LoadBalancer("default", "web"))
	for _, name := range []string{"gold", "web"} {
		c.SetEndpoints(t, "default", name, cluster.Endpoint{Node: "node2", Addr: netip.MustParseAddr("192.0.2.36"), Ready: true})
	}
	goldIP := netip.PrefixFrom(c.WaitForIPs(t, "default", "gold", 1)[0], 32)
	webIP := netip.PrefixFrom(c.WaitForIPs(t, "default", "web", 1)[0], 32)

	all := nodeAddrs(c, false, "node1", "node2", "node3")
	expectRoute(t, r, goldIP, nodeAddrs(c, false, "node1"), "64512:200", "64512:100")
	expectRoute(t, r, webIP, all, "64512:100", "64512:200")

	// The label goes: the Service is one of the others now.
	var s corev1.Service
	if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(gold), &s); err != nil {
		t.Fatal(err)
	}
	delete(s.Labels, "tier")
	if err := c.Client.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	expectRoute(t, r, goldIP, all, "64512:100", "64512:200")
}

// expectRoute waits until FRR forwards prefix to exactly nextHops, then
// checks every path carries community want and none carries unwanted.
func expectRoute(t *testing.T, r *frr.Router, prefix netip.Prefix, nextHops []netip.Addr, want, unwanted string) {
	t.Helper()
	waitNextHops(t, r, prefix, nextHops)
	full, _, err := r.Route(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range full.Paths {
		if !slices.Contains(p.Communities, want) || slices.Contains(p.Communities, unwanted) {
			t.Errorf("%s via %s: communities %v, want %s and not %s", prefix, p.NextHop, p.Communities, want, unwanted)
		}
	}
	t.Logf("%s: next hops %v, community %s", prefix, nextHops, want)
}
