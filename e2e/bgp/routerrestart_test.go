package bgp_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

// TestRouterRestartRestoresEverySessionAndRoute restarts FRR (every daemon
// killed, then started again with the same configuration): every session
// and route is back within 10 s, without restarting any speaker.
func TestRouterRestartRestoresEverySessionAndRoute(t *testing.T) {
	back := restartRouter(t)
	t.Logf("router restarted: every route back with every next hop after %v", back.Round(time.Millisecond))
	if back > 10*time.Second {
		t.Errorf("routes back %v after the router restarted, want within 10 s", back)
	}
}

// BenchmarkRouterRestart measures the same recovery. Run with
// -benchtime=1x.
func BenchmarkRouterRestart(b *testing.B) {
	for range b.N {
		b.ReportMetric(ms(restartRouter(b)), "recovery-ms")
	}
}

// restartRouter starts the cluster with a dual-stack Service advertised by
// every node, restarts FRR (every daemon killed, then started again with
// the same configuration) and returns how long every route took to come
// back with every next hop. No speaker may restart meanwhile.
func restartRouter(t testing.TB) time.Duration {
	c, r := bgpCluster(t, false, v1beta1.BGPAdvertisementSpec{})
	c.Create(t, cluster.LoadBalancer("default", "web", cluster.DualStack))
	c.SetEndpoints(t, "default", "web", endpointsOnEveryNode(c)...)
	ips := c.WaitForIPs(t, "default", "web", 2)
	for _, ip := range ips {
		waitNextHops(t, r, netip.PrefixFrom(ip, ip.BitLen()), nodeAddrs(c, ip.Is6(), "node1", "node2", "node3"))
	}
	speakers := map[string]int{}
	for _, n := range c.Lab.Nodes {
		speakers[n.Name] = c.Speaker(n.Name).Pid()
	}

	host, opts := r.Host, r.Options
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	r2 := frr.New(t, host, opts)
	for _, ip := range ips {
		waitNextHops(t, r2, netip.PrefixFrom(ip, ip.BitLen()), nodeAddrs(c, ip.Is6(), "node1", "node2", "node3"))
	}
	back := time.Since(restarted)
	for n, pid := range speakers {
		if p := c.Speaker(n); p.Pid() != pid || p.Exited() {
			t.Errorf("speaker %s was restarted", n)
		}
	}
	return back
}

// endpointsOnEveryNode is one ready endpoint of each family per node.
func endpointsOnEveryNode(c *cluster.Cluster) []cluster.Endpoint {
	var eps []cluster.Endpoint
	for i, n := range c.Lab.Nodes {
		eps = append(eps,
			cluster.Endpoint{Node: n.Name, Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(50 + i)}), Ready: true},
			cluster.Endpoint{Node: n.Name, Addr: netip.MustParseAddr(fmt.Sprintf("2001:db8:200::%d", 50+i)), Ready: true})
	}
	return eps
}
