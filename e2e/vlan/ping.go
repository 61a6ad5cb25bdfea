package vlan

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingInterval is how often Ping repeats an unanswered echo request.
const pingInterval = 100 * time.Millisecond

// Ping sends ICMP echo requests from inside the host's namespace to dst
// until one is answered or ctx is done, and returns the round-trip time of
// the answered one. Bound ctx with a timeout; a timeout of a few hundred
// milliseconds is plenty inside a lab. It needs no ping binary.
func (h *Host) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	if !dst.IsValid() {
		return 0, fmt.Errorf("host %s: ping: invalid address", h.Name)
	}
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if !dst.Unmap().Is4() {
		network, listen, proto = "ip6:ipv6-icmp", "::", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	} else {
		dst = dst.Unmap()
	}
	var conn *icmp.PacketConn
	err := h.Do(func() error {
		var err error
		conn, err = icmp.ListenPacket(network, listen)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("host %s: ping %s: open socket: %w", h.Name, dst, err)
	}
	defer conn.Close()

	id := int(rand.Uint32() & 0xffff)
	to := &net.IPAddr{IP: net.IP(dst.AsSlice()), Zone: dst.Zone()}
	sent := map[int]time.Time{}
	buf := make([]byte, 1500)
	for seq := 1; ; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("ironlb-vlan")}}
		b, err := msg.Marshal(nil) // ICMPv6 checksums are filled in by the kernel
		if err != nil {
			return 0, fmt.Errorf("host %s: ping %s: %w", h.Name, dst, err)
		}
		sent[seq] = time.Now()
		if _, err := conn.WriteTo(b, to); err != nil {
			// No route yet, or the link is down: keep trying until ctx.
			if ctx.Err() != nil {
				return 0, fmt.Errorf("host %s: ping %s: %w (last send: %v)", h.Name, dst, ctx.Err(), err)
			}
		}
		next := time.Now().Add(pingInterval)
		for {
			deadline := next
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			if err := conn.SetReadDeadline(deadline); err != nil {
				return 0, fmt.Errorf("host %s: ping %s: %w", h.Name, dst, err)
			}
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					return 0, fmt.Errorf("host %s: ping %s: %w", h.Name, dst, err)
				}
				if ctx.Err() != nil {
					return 0, fmt.Errorf("host %s: ping %s: no reply: %w", h.Name, dst, ctx.Err())
				}
				if time.Now().After(next) || time.Now().Equal(next) {
					break // send the next request
				}
				continue
			}
			if rtt, ok := matchEcho(buf[:n], proto, replyType, id, sent, from, dst); ok {
				return rtt, nil
			}
		}
	}
}

// matchEcho reports whether b is the reply to one of our requests from dst.
func matchEcho(b []byte, proto int, replyType icmp.Type, id int, sent map[int]time.Time, from net.Addr, dst netip.Addr) (time.Duration, bool) {
	m, err := icmp.ParseMessage(proto, b)
	if err != nil || m.Type != replyType {
		return 0, false
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || echo.ID != id {
		return 0, false
	}
	if ip, ok := from.(*net.IPAddr); ok {
		if a, ok := netip.AddrFromSlice(ip.IP); !ok || a.Unmap() != dst.WithZone("").Unmap() {
			return 0, false
		}
	}
	t, ok := sent[echo.Seq]
	if !ok {
		return 0, false
	}
	return time.Since(t), true
}
