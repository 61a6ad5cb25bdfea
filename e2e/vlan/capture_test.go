package vlan

import (
	"bytes"
	"net"
	"testing"
	"time"
)

func sameMAC(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) }

func TestCaptureSeesARPAndNDPWithMACs(t *testing.T) {
	lab := New(t, Options{Nodes: 3, Router: true})
	client, node1 := lab.Clients[0], lab.Nodes[0]
	ctx := ctxFor(t, 10*time.Second)
	capture, err := lab.Capture(ctx, NeighborDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, dst := range []string{"v4", "v6"} {
		a := node1.IPv4.Addr()
		if dst == "v6" {
			a = node1.IPv6.Addr()
		}
		if _, err := client.Ping(ctxFor(t, 2*time.Second), a); err != nil {
			t.Fatal(err)
		}
	}

	req, err := capture.WaitFor(ctxFor(t, 2*time.Second), func(f Frame) bool {
		return f.IsARPRequest() && f.ARP.TargetIP == node1.IPv4.Addr()
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.Port != client.Name || !sameMAC(req.Src, client.MAC) || !sameMAC(req.ARP.SenderMAC, client.MAC) ||
		req.ARP.SenderIP != client.IPv4.Addr() || req.Dst.String() != "ff:ff:ff:ff:ff:ff" {
		t.Errorf("ARP request %v: want broadcast from %s (%s, %s)", req, client.Name, client.MAC, client.IPv4.Addr())
	}
	reply, err := capture.WaitFor(ctxFor(t, 2*time.Second), func(f Frame) bool {
		return f.IsARPReply() && f.ARP.SenderIP == node1.IPv4.Addr()
	})
	if err != nil {
		t.Fatal(err)
	}
	if reply.Port != node1.Name || !sameMAC(reply.Src, node1.MAC) || !sameMAC(reply.ARP.SenderMAC, node1.MAC) ||
		!sameMAC(reply.Dst, client.MAC) || reply.ARP.TargetIP != client.IPv4.Addr() {
		t.Errorf("ARP reply %v: want node1 (%s) answering client (%s)", reply, node1.MAC, client.MAC)
	}
	if reply.Time.Before(req.Time) || req.Time.Before(start.Add(-time.Second)) || time.Since(reply.Time) > 10*time.Second {
		t.Errorf("timestamps: request %v, reply %v, test start %v", req.Time, reply.Time, start)
	}

	ns, err := capture.WaitFor(ctxFor(t, 2*time.Second), func(f Frame) bool {
		return f.IsNS() && f.ICMPv6.Target == node1.IPv6.Addr()
	})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Port != client.Name || !sameMAC(ns.Src, client.MAC) || !sameMAC(ns.ICMPv6.LinkAddr, client.MAC) {
		t.Errorf("NS %v: want it from client (%s) with its source link-layer address", ns, client.MAC)
	}
	na, err := capture.WaitFor(ctxFor(t, 2*time.Second), func(f Frame) bool {
		return f.IsNA() && f.ICMPv6.Target == node1.IPv6.Addr()
	})
	if err != nil {
		t.Fatal(err)
	}
	if na.Port != node1.Name || !sameMAC(na.Src, node1.MAC) || !sameMAC(na.ICMPv6.LinkAddr, node1.MAC) ||
		!na.ICMPv6.Solicited || na.SrcIP != node1.IPv6.Addr() {
		t.Errorf("NA %v (%+v): want a solicited NA from node1 (%s)", na, *na.ICMPv6, node1.MAC)
	}

	// Each frame is recorded once although the bridge floods the ARP
	// request out of four ports, and only neighbour discovery was kept.
	frames := capture.Stop()
	requests := 0
	for _, f := range frames {
		t.Log(f)
		if !NeighborDiscovery(f) {
			t.Errorf("filter let %v through", f)
		}
		if f.IsARPRequest() && f.ARP.TargetIP == node1.IPv4.Addr() && f.Port == client.Name {
			requests++
		}
		if (f.IsARPReply() && f.ARP.SenderIP == node1.IPv4.Addr()) && f.Port != node1.Name {
			t.Errorf("someone else answered for node1: %v", f)
		}
	}
	if requests != 1 {
		t.Errorf("client's ARP request for node1 recorded %d times, want once", requests)
	}
	if err := capture.Err(); err != nil {
		t.Errorf("capture error: %v", err)
	}
}

func TestCaptureSeesIPTraffic(t *testing.T) {
	lab := New(t, Options{Nodes: 1})
	client, node1 := lab.Clients[0], lab.Nodes[0]
	capture, err := lab.Capture(ctxFor(t, 5*time.Second), func(f Frame) bool { return f.Protocol == ProtoTCP })
	if err != nil {
		t.Fatal(err)
	}
	ln, err := node1.Listen("tcp", "0.0.0.0:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := client.DialContext(ctxFor(t, 2*time.Second), "tcp", "198.51.100.11:8080")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Stop right away: frames that passed the bridge before must be kept.
	frames := capture.Stop()
	var syn Frame
	for _, f := range frames {
		if f.DstPort == 8080 {
			syn = f
			break
		}
	}
	if syn.Port != client.Name || syn.SrcIP != client.IPv4.Addr() || syn.DstIP != node1.IPv4.Addr() || !sameMAC(syn.Dst, node1.MAC) {
		t.Fatalf("TCP frame %v: want client -> node1:8080", syn)
	}
}
