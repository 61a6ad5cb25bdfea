package faults_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// lanSystem is a cluster with the nftables datapath, a layer 2 pool on the
// client's LAN and a dual-stack Cluster Service web with a pod on every
// node.
type lanSystem struct {
	c      *cluster.Cluster
	client *vlan.Host
	vips   []netip.AddrPort // port 80 of web's addresses, IPv4 first
	owner  string           // the node announcing the IPv4 address
}

func startLAN(t testing.TB) *lanSystem {
	t.Helper()
	c := cluster.Start(t, cluster.Options{Datapath: "nftables", ControllerArgs: []string{"-ip-mode", "Proxy"}})
	ctx := context.Background()
	lan := c.Lab.Clients[0]
	for _, route := range [][]string{
		{"route", "replace", "203.0.113.0/24", "dev", lan.Iface},
		{"-6", "route", "replace", "2001:db8:300::/64", "dev", lan.Iface},
	} {
		if out, err := lan.Exec(ctx, "ip", route...); err != nil {
			t.Fatalf("client ip %v: %v: %s", route, err, out)
		}
	}
	c.Create(t, cluster.Pool("lan", "203.0.113.0/24", "2001:db8:300::/120"), cluster.L2("lan", []string{"lan"}, "eth0"))
	var pods []*cluster.Pod
	for _, n := range c.Lab.Nodes {
		pods = append(pods, c.StartPod(t, n.Name, "web-"+n.Name))
	}
	c.Create(t, cluster.LoadBalancer("default", "web", cluster.DualStack))
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pods...)...)
	s := &lanSystem{c: c, client: lan}
	for _, ip := range c.WaitForIPs(t, "default", "web", 2) {
		s.vips = append(s.vips, netip.AddrPortFrom(ip, 80))
	}
	for _, vip := range s.vips {
		cluster.Eventually(t, 60*time.Second, "a request to "+vip.String(), func() error {
			return cluster.Request(ctx, lan, vip, time.Second)
		})
	}
	s.owner = c.WaitForAnnouncer(t, "default", "web", s.vips[0].Addr(), func(string) bool { return true })
	return s
}

// firstAnswer sends requests to vip, each given per to answer, until one
// does, and returns when that was.
func firstAnswer(t testing.TB, h *vlan.Host, vip netip.AddrPort, per, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := cluster.Request(context.Background(), h, vip, per); err == nil {
			return time.Now()
		}
	}
	t.Fatalf("%s: no answer within %v", vip, limit)
	return time.Time{}
}

// announcerOnWire is the node whose MAC the client's kernel resolves ip
// to: its neighbor entry is flushed and resolved again by a request, so
// the answer is who answers ARP or NDP now, whatever the statuses say.
func announcerOnWire(t testing.TB, c *cluster.Cluster, client *vlan.Host, vip netip.AddrPort) string {
	t.Helper()
	ctx := context.Background()
	if out, err := client.Exec(ctx, "ip", "neigh", "flush", "to", vip.Addr().String(), "dev", client.Iface); err != nil {
		t.Fatalf("client: flush neighbor %s: %v: %s", vip.Addr(), err, out)
	}
	if err := cluster.Request(ctx, client, vip, 2*time.Second); err != nil {
		t.Fatalf("%s after flushing the neighbor entry: %v", vip, err)
	}
	out, err := client.Exec(ctx, "ip", "-j", "neigh", "show", "to", vip.Addr().String(), "dev", client.Iface)
	if err != nil {
		t.Fatalf("client: neighbor %s: %v: %s", vip.Addr(), err, out)
	}
	var entries []struct {
		LLAddr string `json:"lladdr"`
	}
	if err := json.Unmarshal(out, &entries); err != nil || len(entries) != 1 {
		t.Fatalf("client: neighbor %s: %v: %s", vip.Addr(), err, out)
	}
	for _, n := range c.Lab.Nodes {
		if n.MAC.String() == entries[0].LLAddr {
			return n.Name
		}
	}
	t.Fatalf("%s resolves to %s, no node's MAC", vip.Addr(), entries[0].LLAddr)
	return ""
}
