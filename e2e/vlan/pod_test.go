package vlan

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAddPodReachableThroughNode(t *testing.T) {
	lab := New(t, Options{Nodes: 2})
	client, node1, node2 := lab.Clients[0], lab.Nodes[0], lab.Nodes[1]
	pod, err := lab.AddPod(node1, "web", netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.IPv4.String() != "192.0.2.18/32" || pod.IPv6.String() != "2001:db8:200:1::18/128" || pod.Node != node1 {
		t.Fatalf("pod addresses %s %s on %v, want 192.0.2.18/32 2001:db8:200:1::18/128 on node1", pod.IPv4, pod.IPv6, pod.Node.Name)
	}
	for _, r := range []struct {
		dst netip.Prefix
		via netip.Addr
	}{{node1.PodCIDRv4, node1.IPv4.Addr()}, {node1.PodCIDRv6, node1.IPv6.Addr()}} {
		if err := client.AddRoute(r.dst, r.via); err != nil {
			t.Fatal(err)
		}
	}
	for _, dst := range []netip.Addr{pod.IPv4.Addr(), pod.IPv6.Addr()} {
		if _, err := client.Ping(ctxFor(t, 2*time.Second), dst); err != nil {
			t.Fatalf("client -> pod %s: %v", dst, err)
		}
	}
	for _, dst := range []netip.Addr{client.IPv4.Addr(), client.IPv6.Addr()} {
		if _, err := pod.Ping(ctxFor(t, 2*time.Second), dst); err != nil {
			t.Fatalf("pod -> client %s: %v", dst, err)
		}
	}

	// TCP from the client arrives with the client's own address (routed,
	// no NAT) at a server inside the pod.
	ln, err := pod.Listen("tcp", "[::]:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c.RemoteAddr()
		c.Close()
	}()
	c, err := client.DialContext(ctxFor(t, 2*time.Second), "tcp", "192.0.2.18:8080")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if from := <-accepted; from == nil || !strings.Contains(from.String(), client.IPv4.Addr().String()) {
		t.Fatalf("pod saw the connection from %v, want %s", from, client.IPv4.Addr())
	}

	// Address choice: next free on node1, explicit, and node2's subnet.
	pod2, err := lab.AddPod(node1, "web-2", netip.Addr{}, netip.Addr{})
	if err != nil || pod2.IPv4.Addr().String() != "192.0.2.19" {
		t.Fatalf("second pod: %v, %v; want 192.0.2.19", pod2, err)
	}
	pod3, err := lab.AddPod(node2, "api", netip.MustParseAddr("192.0.2.40"), netip.MustParseAddr("2001:db8:200:2::abcd"))
	if err != nil || pod3.IPv6.Addr().String() != "2001:db8:200:2::abcd" {
		t.Fatalf("explicit pod: %v, %v", pod3, err)
	}
	if _, err := node2.Ping(ctxFor(t, 2*time.Second), pod3.IPv6.Addr()); err != nil {
		t.Fatalf("node2 -> its pod: %v", err)
	}
	// A pod can take its link down like a LAN host.
	if err := pod3.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if _, err := node2.Ping(ctxFor(t, 300*time.Millisecond), pod3.IPv4.Addr()); err == nil {
		t.Fatal("pod answered with its link down")
	}
	if len(lab.Pods()) != 3 || lab.Host("api") != pod3 {
		t.Fatalf("lab lists pods %v", lab.Pods())
	}
}

func TestAddPodRejectsBadInput(t *testing.T) {
	lab := New(t, Options{Nodes: MaxPodNodes + 1})
	node1 := lab.Nodes[0]
	if _, err := lab.AddPod(node1, "taken", netip.Addr{}, netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	before := len(netnsNames(t, lab.Name))
	tests := []struct {
		name   string
		node   *Host
		pod    string
		v4, v6 string
		errHas string
	}{
		{"node without pod subnet", lab.Nodes[MaxPodNodes], "p", "", "", "no pod subnet"},
		{"not a node", lab.Clients[0], "p", "", "", "must be a node"},
		{"bad name", node1, "Bad_Name", "", "", "must match"},
		{"duplicate name", node1, "taken", "", "", "exists"},
		{"host name", node1, "node2", "", "", "exists"},
		{"v4 outside subnet", node1, "p", "192.0.2.40", "", "not a pod address of node1"},
		{"v4 is the gateway", node1, "p", "192.0.2.17", "", "not a pod address"},
		{"v4 is broadcast", node1, "p", "192.0.2.31", "", "not a pod address"},
		{"v6 outside subnet", node1, "p", "", "2001:db8:200:2::1", "not a pod address"},
		{"v4 taken", node1, "p", "192.0.2.18", "2001:db8:200:1::99", "taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v4, v6 netip.Addr
			if tt.v4 != "" {
				v4 = netip.MustParseAddr(tt.v4)
			}
			if tt.v6 != "" {
				v6 = netip.MustParseAddr(tt.v6)
			}
			_, err := lab.AddPod(tt.node, tt.pod, v4, v6)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want one containing %q", err, tt.errHas)
			}
		})
	}
	if after := len(netnsNames(t, lab.Name)); after != before {
		t.Fatalf("failed AddPod calls left namespaces: %d before, %d after", before, after)
	}
}
