// Package bgp_test checks BGP mode end to end on a virtual LAN: three real
// speakers (in node namespaces, driven by the API server) peer with a real
// FRR router, which is the source of truth for what is advertised.
package bgp_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

const (
	routerASN  = 64500
	clusterASN = 64512
)

// bgpCluster starts 3 nodes, a router running FRR that accepts every node
// (eBGP unless ibgp), a BGP pool and a BGPPeer.
func bgpCluster(t testing.TB, ibgp bool, adv v1beta1.BGPAdvertisementSpec) (*cluster.Cluster, *frr.Router) {
	t.Helper()
	c := cluster.Start(t, cluster.Options{Router: true})
	myASN := uint32(clusterASN)
	if ibgp {
		myASN = routerASN
	}
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors,
			frr.Neighbor{Address: n.IPv4.Addr(), ASN: myASN},
			frr.Neighbor{Address: n.IPv6.Addr(), ASN: myASN})
	}
	r := frr.New(t, c.Lab.Router, frr.Options{ASN: routerASN, RouterID: c.Lab.Router.IPv4.Addr(), Neighbors: neighbors, MaximumPaths: 8})
	adv.IPAddressPools = []string{"bgp"}
	c.Create(t,
		cluster.Pool("bgp", "203.0.113.128/25", "2001:db8:300:1::/120"),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: adv},
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{MyASN: myASN, ASN: routerASN, Address: c.Lab.Router.IPv4.Addr().String()}},
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-v6"}, Spec: v1beta1.BGPPeerSpec{MyASN: myASN, ASN: routerASN, Address: c.Lab.Router.IPv6.Addr().String()}},
	)
	return c, r
}

func nodeAddrs(c *cluster.Cluster, v6 bool, names ...string) []netip.Addr {
	var out []netip.Addr
	for _, n := range names {
		out = append(out, c.NodeAddr(n, v6))
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// waitNextHops waits until FRR forwards prefix to exactly want (none: the
// route is gone).
func waitNextHops(t testing.TB, r *frr.Router, prefix netip.Prefix, want []netip.Addr) frr.Route {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	route, err := r.WaitRoute(ctx, prefix, func(route frr.Route, ok bool) bool {
		if len(want) == 0 {
			return !ok || len(route.NextHops()) == 0
		}
		return ok && slices.Equal(route.NextHops(), want)
	})
	if err != nil {
		got, _, _ := r.Route(context.Background(), prefix)
		t.Fatalf("%s: want next hops %v, FRR has %v: %v", prefix, want, got.NextHops(), err)
	}
	return route
}

func TestClusterServiceIsAdvertisedByEveryNodeAndWithdrawnOnDelete(t *testing.T) {
	c, r := bgpCluster(t, false, v1beta1.BGPAdvertisementSpec{
		Communities: []string{"64512:100", "large:64512:1:2"},
	})
	svc := cluster.LoadBalancer("default", "web", cluster.DualStack)
	c.Create(t, svc)
	c.SetEndpoints(t, "default", "web", cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("192.0.2.20"), Ready: true},
		cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("2001:db8:200::20"), Ready: true})
	ips := c.WaitForIPs(t, "default", "web", 2)

	for _, ip := range ips {
		prefix := netip.PrefixFrom(ip, ip.BitLen())
		route := waitNextHops(t, r, prefix, nodeAddrs(c, ip.Is6(), "node1", "node2", "node3"))
		full, _, err := r.Route(context.Background(), route.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range full.Paths {
			if !slices.Contains(p.Communities, "64512:100") || !slices.Contains(p.LargeCommunities, "64512:1:2") {
				t.Errorf("%s via %s: communities %v large %v", prefix, p.NextHop, p.Communities, p.LargeCommunities)
			}
		}
	}
	before, err := r.Neighbors(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Another Service comes and goes: no session resets.
	c.Create(t, cluster.LoadBalancer("default", "other"))
	c.SetEndpoints(t, "default", "other", cluster.Endpoint{Node: "node2", Addr: netip.MustParseAddr("192.0.2.36"), Ready: true})
	other := c.WaitForIPs(t, "default", "other", 1)[0]
	waitNextHops(t, r, netip.PrefixFrom(other, 32), nodeAddrs(c, false, "node1", "node2", "node3"))

	if err := c.Client.Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		waitNextHops(t, r, netip.PrefixFrom(ip, ip.BitLen()), nil)
	}
	after, err := r.Neighbors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for addr, b := range before {
		if a := after[addr]; a.State != "Established" || a.Uptime < b.Uptime {
			t.Errorf("session with %s reset while Services changed: uptime %v -> %v, state %s", addr, b.Uptime, a.Uptime, a.State)
		}
	}
}

func TestLocalServiceIsAdvertisedOnlyByNodesWithEndpoints(t *testing.T) {
	c, r := bgpCluster(t, true, v1beta1.BGPAdvertisementSpec{LocalPref: ptr(uint32(250))})
	c.Create(t, cluster.LoadBalancer("default", "local", cluster.Local))
	c.SetEndpoints(t, "default", "local", cluster.Endpoint{Node: "node2", Addr: netip.MustParseAddr("192.0.2.36"), Ready: true},
		cluster.Endpoint{Node: "node3", Addr: netip.MustParseAddr("192.0.2.52"), Ready: true})
	ip := c.WaitForIPs(t, "default", "local", 1)[0]
	prefix := netip.PrefixFrom(ip, 32)
	route := waitNextHops(t, r, prefix, nodeAddrs(c, false, "node2", "node3"))
	for _, p := range route.Paths {
		if !p.HasLocalPref || p.LocalPref != 250 {
			t.Errorf("via %s: local-pref %v/%d, want 250 (iBGP)", p.NextHop, p.HasLocalPref, p.LocalPref)
		}
	}
	c.SetEndpoints(t, "default", "local", cluster.Endpoint{Node: "node3", Addr: netip.MustParseAddr("192.0.2.52"), Ready: true})
	waitNextHops(t, r, prefix, nodeAddrs(c, false, "node3"))
	c.SetEndpoints(t, "default", "local")
	waitNextHops(t, r, prefix, nil)
}

func TestAggregationLengthIsHonoured(t *testing.T) {
	c, r := bgpCluster(t, false, v1beta1.BGPAdvertisementSpec{AggregationLength: ptr(int32(25))})
	c.Create(t, cluster.LoadBalancer("default", "agg"))
	c.SetEndpoints(t, "default", "agg", cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("192.0.2.20"), Ready: true})
	ip := c.WaitForIPs(t, "default", "agg", 1)[0]
	waitNextHops(t, r, netip.PrefixFrom(ip, 25).Masked(), nodeAddrs(c, false, "node1", "node2", "node3"))
	if _, ok, _ := r.Route(context.Background(), netip.PrefixFrom(ip, 32)); ok {
		t.Fatalf("the /32 of %s was advertised although the advertisement aggregates to /25", ip)
	}
}

func TestSessionStatusIsVisibleAndAWrongPasswordSaysWhy(t *testing.T) {
	c, _ := bgpCluster(t, false, v1beta1.BGPAdvertisementSpec{})
	// Every speaker reports its sessions.
	cluster.Eventually(t, 60*time.Second, "Established sessions in BGPSessionStatus", func() error {
		var list v1beta1.BGPSessionStatusList
		if err := c.Client.List(context.Background(), &list); err != nil {
			return err
		}
		up := 0
		for _, s := range list.Items {
			if s.Status.State == "Established" {
				up++
			}
		}
		if up != 6 {
			return fmt.Errorf("%d of 6 sessions Established", up)
		}
		return nil
	})
	// The router expects no password; give the IPv4 peer one.
	var peer v1beta1.BGPPeer
	if err := c.Client.Get(context.Background(), client.ObjectKey{Name: "tor"}, &peer); err != nil {
		t.Fatal(err)
	}
	peer.Spec.Password = "not-the-routers"
	if err := c.Client.Update(context.Background(), &peer); err != nil {
		t.Fatal(err)
	}
	cluster.Eventually(t, 90*time.Second, "node1's session with tor to be down with a reason", func() error {
		var st v1beta1.BGPSessionStatus
		if err := c.Client.Get(context.Background(), client.ObjectKey{Name: "node1.tor"}, &st); err != nil {
			return err
		}
		if st.Status.State == "Established" || st.Status.LastError == "" {
			return fmt.Errorf("state %s, last error %q", st.Status.State, st.Status.LastError)
		}
		return nil
	})
}

func ptr[T any](v T) *T { return &v }
