package layer2_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

func TestClientResolvesTheVIPToTheAnnouncingNodeOnly(t *testing.T) {
	c := l2Cluster(t, cluster.Options{})
	client := c.Lab.Clients[0]
	c.Create(t, cluster.LoadBalancer("default", "web", cluster.DualStack))
	c.SetEndpoints(t, "default", "web", endpointsOn("node1", "node2", "node3")...)
	ips := c.WaitForIPs(t, "default", "web", 2)

	owners := map[netip.Addr]string{}
	for _, ip := range ips {
		owners[ip] = c.WaitForAnnouncer(t, "default", "web", ip, func(string) bool { return true })
	}
	// Speakers that started a moment ago may still be joining, which can
	// move an IP once; watch the steady state.
	time.Sleep(time.Second)
	capture, err := c.Lab.Capture(context.Background(), vlan.NeighborDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer capture.Stop()

	for _, ip := range ips {
		node := c.WaitForAnnouncer(t, "default", "web", ip, func(string) bool { return true })
		if node != owners[ip] {
			t.Logf("%s moved from %s to %s while the speakers joined", ip, owners[ip], node)
		}
		serveVIP(t, c, ip)
		reach(t, client, ip)
		if got, want := neighborMAC(t, client, ip), macOf(c, node); got != want {
			t.Errorf("%s: client resolved %s, the status names %s (%s)", ip, got, node, want)
		}
	}

	// An address of the pool that no Service holds gets no answer.
	unused := netip.MustParseAddr("203.0.113.200")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err = client.Ping(ctx, unused)
	cancel()
	if err == nil {
		t.Errorf("%s (not assigned) answered a ping", unused)
	}
	time.Sleep(200 * time.Millisecond)
	capture.Stop()

	macs := map[netip.Addr]string{}
	for _, ip := range ips {
		macs[ip] = macOf(c, c.L2Status(t, "default", "web", ip).Status.Node)
	}
	for _, f := range capture.Frames() {
		var ip netip.Addr
		switch {
		case f.IsARPReply():
			ip = f.ARP.SenderIP
		case f.IsNA():
			ip = f.ICMPv6.Target
		default:
			continue
		}
		if ip == unused {
			t.Errorf("%s answered for the unassigned %s", f.Src, unused)
		}
		if want, ok := macs[ip]; ok && f.Src.String() != want {
			t.Errorf("%s answered for %s, only %s should", f.Src, ip, want)
		}
	}
}
