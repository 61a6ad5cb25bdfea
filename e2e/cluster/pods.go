package cluster

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Pod is a namespace behind a node running an echo server.
type Pod struct {
	Name string
	Node string
	Host *vlan.Host
}

// StartPod adds a pod namespace behind node and serves TCP 8080 and UDP
// 5353 there: each answer is "<pod> <remote address>\n", so a client can
// tell which pod answered and which source address the pod saw.
func (c *Cluster) StartPod(t testing.TB, node, name string) *Pod {
	t.Helper()
	h, err := c.Lab.AddPod(c.Lab.Host(node), name, netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatalf("pod %s on %s: %v", name, node, err)
	}
	c.routePods(t, node)
	ln, err := h.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(conn, name)
		}
	}()
	pc, err := h.ListenPacket("udp", ":5353")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(fmt.Sprintf("%s %s\n", name, from)), from)
		}
	}()
	return &Pod{Name: name, Node: node, Host: h}
}

// serveConn answers every line with the pod's name and the peer address,
// so one connection can be used for several requests.
func serveConn(conn net.Conn, name string) {
	defer conn.Close()
	r := bufio.NewScanner(conn)
	for r.Scan() {
		if _, err := fmt.Fprintf(conn, "%s %s\n", name, conn.RemoteAddr()); err != nil {
			return
		}
	}
}

// Endpoints are the pods as ready endpoints of both families.
func Endpoints(pods ...*Pod) []Endpoint {
	var eps []Endpoint
	for _, p := range pods {
		for _, a := range []netip.Addr{p.Host.IPv4.Addr(), p.Host.IPv6.Addr()} {
			if a.IsValid() {
				eps = append(eps, Endpoint{Node: p.Node, Addr: a, Ready: true})
			}
		}
	}
	return eps
}

// routePods gives every other node a route to node's pod subnets, as a
// cluster network would, so Cluster-policy traffic reaches remote pods.
func (c *Cluster) routePods(t testing.TB, node string) {
	c.mu.Lock()
	if c.podRoutes == nil {
		c.podRoutes = map[string]bool{}
	}
	done := c.podRoutes[node]
	c.podRoutes[node] = true
	c.mu.Unlock()
	if done {
		return
	}
	owner := c.Lab.Host(node)
	for _, n := range c.Lab.Nodes {
		if n == owner {
			continue
		}
		if err := n.AddRoute(owner.PodCIDRv4, owner.IPv4.Addr()); err != nil {
			t.Fatalf("route %s via %s on %s: %v", owner.PodCIDRv4, node, n.Name, err)
		}
		if err := n.AddRoute(owner.PodCIDRv6, owner.IPv6.Addr()); err != nil {
			t.Fatalf("route %s via %s on %s: %v", owner.PodCIDRv6, node, n.Name, err)
		}
	}
}
