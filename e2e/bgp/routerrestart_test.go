package bgp_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
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
// router: longer than the 10 s bound, so a session that comes up and drops
// again within it is seen.
const stableAfter = 12 * time.Second

// restartRouter starts the cluster with a dual-stack Service advertised by
// every node (BFD on every session if bfd), restarts FRR (every daemon
// killed, then started again with the same configuration) and returns how
// long every session and route took to come back, with every next hop, for
// good. No speaker may restart meanwhile.
func restartRouter(t testing.TB, bfd bool) time.Duration {
	c, r := bgpClusterBFD(t, false, bfd, v1beta1.BGPAdvertisementSpec{})
	c.Create(t, cluster.LoadBalancer("default", "web", cluster.DualStack))
	c.SetEndpoints(t, "default", "web", endpointsOnEveryNode(c)...)
	want := map[netip.Prefix][]netip.Addr{}
	for _, ip := range c.WaitForIPs(t, "default", "web", 2) {
		p := netip.PrefixFrom(ip, ip.BitLen())
		want[p] = nodeAddrs(c, ip.Is6(), "node1", "node2", "node3")
		waitNextHops(t, r, p, want[p])
	}
	var sessions []netip.Addr
	for _, v6 := range []bool{false, true} {
		sessions = append(sessions, nodeAddrs(c, v6, "node1", "node2", "node3")...)
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
	back := wholeAgain(t, r2, restarted, sessions, want)
	if ns, err := r2.Neighbors(context.Background()); err == nil {
		for _, a := range sessions {
			t.Logf("session %s: established %d time(s) since the restart", a, ns[a].ConnectionsEstablished)
		}
	}
	for n, pid := range speakers {
		if p := c.Speaker(n); p.Pid() != pid || p.Exited() {
			t.Errorf("speaker %s was restarted", n)
		}
	}
	return back
}

// wholeAgain watches the router from since until stableAfter has passed
// and the network is whole (every session Established, every route with
// exactly its next hops), and returns when it last became whole. A session
// can come up and drop again (with BFD, FRR's BFD session flaps right after
// the first establishment), taking its routes with it for seconds: only
// the recovery that holds counts.
func wholeAgain(t testing.TB, r *frr.Router, since time.Time, sessions []netip.Addr, routes map[netip.Prefix][]netip.Addr) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var back time.Duration
	whole, why := false, "not read yet"
	for {
		missing := notWhole(ctx, r, sessions, routes)
		at := time.Since(since)
		switch {
		case missing != "":
			whole, why = false, missing
		case !whole:
			whole, back = true, at
		}
		if whole && at >= stableAfter {
			return back
		}
		if ctx.Err() != nil {
			t.Fatalf("a minute after the router restarted: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notWhole names a session that is not Established or a route without
// exactly its next hops ("": none).
func notWhole(ctx context.Context, r *frr.Router, sessions []netip.Addr, routes map[netip.Prefix][]netip.Addr) string {
	ns, err := r.Neighbors(ctx)
	if err != nil {
		return err.Error()
	}
	for _, a := range sessions {
		if !ns[a].Established() {
			return fmt.Sprintf("session %s: %s", a, ns[a].State)
		}
	}
	for p, hops := range routes {
		got, ok, err := r.Route(ctx, p)
		switch {
		case err != nil:
			return err.Error()
		case !ok || !slices.Equal(got.NextHops(), hops):
			return fmt.Sprintf("route %s: next hops %v, want %v", p, got.NextHops(), hops)
		}
	}
	return ""
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
