package bgp_test

import (
	"context"
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
// and route is back within 10 s, without restarting any speaker, with and
// without BFD on the sessions.
func TestRouterRestartRestoresEverySessionAndRoute(t *testing.T) {
	for _, tc := range []struct {
		name string
		bfd  bool
	}{
		{"without BFD", false},
		{"with BFD", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			back := restartRouter(t, tc.bfd)
			t.Logf("router restarted: every session and route back with every next hop after %v", back.Round(time.Millisecond))
			if back > 10*time.Second {
				t.Errorf("sessions and routes back %v after the router restarted, want within 10 s", back)
			}
		})
	}
}

// BenchmarkRouterRestart measures the same recovery. Run with
// -benchtime=1x.
func BenchmarkRouterRestart(b *testing.B) {
	for range b.N {
		b.ReportMetric(ms(restartRouter(b, false)), "recovery-ms")
	}
}

// BenchmarkRouterRestartBFD measures it with BFD on every session. Run
// with -benchtime=1x.
func BenchmarkRouterRestartBFD(b *testing.B) {
	for range b.N {
		b.ReportMetric(ms(restartRouter(b, true)), "recovery-ms")
	}
}

// stableAfter is how long after the restart restartRouter watches the
// sessions: longer than the 10 s bound, so a session that comes up and
// drops again within it is seen.
const stableAfter = 12 * time.Second

// restartRouter starts the cluster with a dual-stack Service advertised by
// every node (BFD on every session if bfd), restarts FRR (every daemon
// killed, then started again with the same configuration) and returns how
// long every session and route took to come back with every next hop. No
// speaker may restart meanwhile.
func restartRouter(t testing.TB, bfd bool) time.Duration {
	c, r := bgpClusterBFD(t, false, bfd, v1beta1.BGPAdvertisementSpec{})
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
	// A session can come up and drop again (with BFD, FRR's BFD session
	// flaps once right after the first establishment), taking its routes
	// with it for seconds: watch past the bound, then count the session as
	// back from when it came up for good.
	time.Sleep(time.Until(restarted.Add(stableAfter)))
	var addrs []netip.Addr
	for _, v6 := range []bool{false, true} {
		addrs = append(addrs, nodeAddrs(c, v6, "node1", "node2", "node3")...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := r2.WaitEstablished(ctx, addrs...)
	if err != nil {
		t.Fatalf("sessions after the router restarted: %v", err)
	}
	read := time.Since(restarted)
	for _, a := range addrs {
		up := read - ns[a].Uptime
		t.Logf("session %s: established %d time(s), up since +%v", a, ns[a].ConnectionsEstablished, up.Round(time.Millisecond))
		back = max(back, up)
	}
	for _, ip := range ips {
		waitNextHops(t, r2, netip.PrefixFrom(ip, ip.BitLen()), nodeAddrs(c, ip.Is6(), "node1", "node2", "node3"))
	}
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
