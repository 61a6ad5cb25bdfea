package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// dialer opens a connection from the client host.
type dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// answer is an echo server's reply: which pod answered and the source
// address it saw.
type answer struct {
	Pod  string
	Seen netip.Addr
}

// requestTimeout bounds one request: connect, send a line, read a line.
const requestTimeout = 2 * time.Second

// ask sends one line to vip:port and reads the pod's answer.
func ask(ctx context.Context, dial dialer, vip netip.Addr, port uint16) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	addr := netip.AddrPortFrom(vip, port).String()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintln(conn, "hello from the lab"); err != nil {
		return answer{}, fmt.Errorf("send to %s: %w", addr, err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return answer{}, fmt.Errorf("read from %s: %w", addr, err)
	}
	return parseAnswer(line)
}

// askRetry is ask with up to tries attempts, half a second apart: right
// after start a datapath rule or a neighbour entry may still be on its way.
func askRetry(ctx context.Context, dial dialer, vip netip.Addr, port uint16, tries int) (answer, error) {
	var err error
	for i := 0; i < tries; i++ {
		var a answer
		if a, err = ask(ctx, dial, vip, port); err == nil {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return answer{}, err
		case <-time.After(500 * time.Millisecond):
		}
	}
	return answer{}, err
}

// parseAnswer reads "<pod> <remote address:port>".
func parseAnswer(line string) (answer, error) {
	f := strings.Fields(line)
	if len(f) != 2 {
		return answer{}, fmt.Errorf("unexpected answer %q", line)
	}
	ap, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return answer{}, fmt.Errorf("unexpected answer %q: %w", line, err)
	}
	return answer{Pod: f[0], Seen: ap.Addr().Unmap()}, nil
}
