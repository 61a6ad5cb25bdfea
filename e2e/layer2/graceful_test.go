package layer2_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// udpEcho answers every datagram to ip:9000 on every node namespace. It
// binds the VIP itself so that replies come from the VIP.
func udpEcho(t testing.TB, c *cluster.Cluster, ip netip.Addr) {
	t.Helper()
	for _, n := range c.Lab.Nodes {
		pc, err := n.ListenPacket("udp", netip.AddrPortFrom(ip, 9000).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				k, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo(buf[:k], from)
			}
		}()
	}
}

// unbindVIP removes ip from a node, as the node's datapath goes away with
// its speaker during a rolling update.
func unbindVIP(t testing.TB, n *vlan.Host, ip netip.Addr) {
	bits := 32
	if ip.Is6() {
		bits = 128
	}
	if out, err := n.Exec(context.Background(), "ip", "addr", "del", fmt.Sprintf("%s/%d", ip, bits), "dev", "lo"); err != nil {
		t.Fatalf("%s: %v: %s", n.Name, err, out)
	}
}

// stream sends one request every interval until ctx ends and counts the
// ones that got no answer within timeout.
func stream(ctx context.Context, client *vlan.Host, target netip.AddrPort, interval, timeout time.Duration) (sent, lost int, err error) {
	conn, err := client.DialContext(ctx, "udp", target.String())
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	buf := make([]byte, 64)
	for seq := 0; ctx.Err() == nil; seq++ {
		msg := fmt.Sprintf("req-%d", seq)
		if _, err := conn.Write([]byte(msg)); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return sent, lost, err
		}
		sent++
		deadline := time.Now().Add(timeout)
		answered := false
		for !answered && time.Now().Before(deadline) {
			_ = conn.SetReadDeadline(deadline)
			k, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.ECONNREFUSED) {
					break
				}
				return sent, lost, err
			}
			answered = string(buf[:k]) == msg
		}
		if !answered {
			lost++
		}
		time.Sleep(interval)
	}
	return sent, lost, nil
}

func TestGracefulShutdownHandsOverWithoutLosingTraffic(t *testing.T) {
	c := l2Cluster(t, cluster.Options{})
	ip, owner := failoverService(t, c)
	udpEcho(t, c, ip)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent, lost int
	var streamErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, lost, streamErr = stream(ctx, c.Lab.Clients[0], netip.AddrPortFrom(ip, 9000), 5*time.Millisecond, 200*time.Millisecond)
	}()
	time.Sleep(time.Second)

	p := c.Speaker(owner)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatal("speaker did not exit within 10s of SIGTERM")
	}
	unbindVIP(t, c.Lab.Host(owner), ip)
	next := c.WaitForAnnouncer(t, "default", "web", ip, func(n string) bool { return n != owner })
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	if streamErr != nil {
		t.Fatal(streamErr)
	}
	t.Logf("hand-over %s -> %s: %d requests, %d lost", owner, next, sent, lost)
	if sent < 100 {
		t.Fatalf("only %d requests sent: the stream did not run", sent)
	}
	if lost > 1 {
		t.Fatalf("%d of %d requests lost during a graceful hand-over (at most 1 allowed)", lost, sent)
	}
}

func udpEchoTB(t testing.TB, c *cluster.Cluster, ip netip.Addr) { udpEcho(t, c, ip) }
func unbindVIPTB(t testing.TB, n *vlan.Host, ip netip.Addr)     { unbindVIP(t, n, ip) }
