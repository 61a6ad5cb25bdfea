// Package layer2_test checks layer 2 mode end to end on a virtual LAN: real
// speakers in node namespaces answer ARP and NDP for the Service IPs they
// are elected for, and the client's own kernel resolves them.
package layer2_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

const (
	poolV4 = "203.0.113.0/24"
	poolV6 = "2001:db8:300::/120"
)

// l2Cluster is a 3-node cluster with one layer 2 pool announced on eth0.
func l2Cluster(t *testing.T, opts cluster.Options) *cluster.Cluster {
	t.Helper()
	c := cluster.Start(t, opts)
	c.Create(t, cluster.Pool("lan", poolV4, poolV6), cluster.L2("lan", []string{"lan"}, "eth0"))
	client := c.Lab.Clients[0]
	for _, p := range []string{poolV4, "2001:db8:300::/64"} {
		// The VIP range is on-link for the client, as on a flat LAN.
		if _, err := client.Exec(context.Background(), "ip", "route", "add", p, "dev", client.Iface); err != nil {
			t.Fatalf("client route %s: %v", p, err)
		}
	}
	return c
}

// serveVIP makes every node accept traffic for ip without its kernel
// answering ARP/NDP for it (the speaker does that): the address sits on lo
// and ARP answers only for addresses of the asking interface. The IronLB
// datapath binds VIPs the same way.
func serveVIP(t testing.TB, c *cluster.Cluster, ip netip.Addr) {
	t.Helper()
	bits := 32
	if ip.Is6() {
		bits = 128
	}
	for _, n := range c.Lab.Nodes {
		for _, cmd := range [][]string{
			{"sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"},
			{"sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2"},
			{"ip", "addr", "replace", fmt.Sprintf("%s/%d", ip, bits), "dev", "lo"},
		} {
			if out, err := n.Exec(context.Background(), cmd[0], cmd[1:]...); err != nil {
				t.Fatalf("%s: %v: %s", n.Name, err, out)
			}
		}
	}
}

// endpointsOn puts one ready endpoint of each family on each named node.
func endpointsOn(nodes ...string) []cluster.Endpoint {
	var eps []cluster.Endpoint
	for i, n := range nodes {
		eps = append(eps,
			cluster.Endpoint{Node: n, Addr: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 10+i)), Ready: true},
			cluster.Endpoint{Node: n, Addr: netip.MustParseAddr(fmt.Sprintf("2001:db8:200::%d", 10+i)), Ready: true})
	}
	return eps
}

// neighborMAC is the client kernel's neighbour entry for ip ("" if none
// or failed).
func neighborMAC(t *testing.T, h *vlan.Host, ip netip.Addr) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "ip", "neigh", "show", ip.String(), "dev", h.Iface)
	if err != nil {
		t.Fatalf("ip neigh: %v", err)
	}
	f := strings.Fields(string(out))
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

func macOf(c *cluster.Cluster, node string) string {
	return c.Lab.Host(node).MAC.String()
}

// reach pings ip from the client until it answers.
func reach(t *testing.T, h *vlan.Host, ip netip.Addr) {
	t.Helper()
	cluster.Eventually(t, 15*time.Second, "ping "+ip.String(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := h.Ping(ctx, ip)
		return err
	})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func serveVIPTB(t testing.TB, c *cluster.Cluster, ip netip.Addr) { serveVIP(t, c, ip) }

// bindVIPTB puts ip back on one node's lo.
func bindVIPTB(t testing.TB, n *vlan.Host, ip netip.Addr) {
	if out, err := n.Exec(context.Background(), "ip", "addr", "replace", ip.String()+"/32", "dev", "lo"); err != nil {
		t.Fatalf("%s: %v: %s", n.Name, err, out)
	}
}
