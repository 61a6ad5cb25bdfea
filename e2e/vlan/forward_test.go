package vlan

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer serves TCP echo on the test process's own loopback until the
// test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestForwardToReachesHostLoopback(t *testing.T) {
	lab := New(t, Options{Nodes: 2})
	node1, node2 := lab.Nodes[0], lab.Nodes[1]
	target := echoServer(t)
	fctx, stop := context.WithCancel(t.Context())
	defer stop()
	if err := node1.ForwardTo(fctx, "127.0.0.1:6443", target); err != nil {
		t.Fatal(err)
	}

	// A Go client inside node1.
	ctx := ctxFor(t, 5*time.Second)
	c, err := node1.DialContext(ctx, "tcp", "127.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello through the namespace wall")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %q, %v; want %q", got, err, msg)
	}
	c.Close()

	// A real program inside node1, as a speaker would be.
	out, err := node1.Exec(ctx, "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/6443; echo ping-from-bash >&3; read -t 3 line <&3; echo "$line"`)
	if err != nil || strings.TrimSpace(string(out)) != "ping-from-bash" {
		t.Fatalf("bash in node1 got %q, %v", out, err)
	}

	// The listener exists only in node1's namespace.
	if c, err := node2.DialContext(ctx, "tcp", "127.0.0.1:6443"); err == nil {
		c.Close()
		t.Fatal("node2 reached node1's forwarder")
	}

	// Cancelling stops the forwarder.
	stop()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := node1.DialContext(ctx, "tcp", "127.0.0.1:6443")
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("forwarder still accepting after its context was cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDialRejectsHostNames(t *testing.T) {
	for _, tt := range []struct {
		network, addr string
		ok            bool
	}{
		{"tcp", "127.0.0.1:80", true},
		{"tcp", "[2001:db8:100::11]:80", true},
		{"tcp", ":80", true},
		{"tcp", "[fe80::1%eth0]:80", true},
		{"ip4:icmp", "0.0.0.0", true},
		{"unix", "/tmp/x.sock", true},
		{"tcp", "localhost:80", false},
		{"udp", "example.invalid:53", false},
		{"tcp", "no-port", false},
	} {
		if err := needIPLiteral(tt.network, tt.addr); (err == nil) != tt.ok {
			t.Errorf("needIPLiteral(%s, %s) = %v, want ok=%v", tt.network, tt.addr, err, tt.ok)
		}
	}
}
