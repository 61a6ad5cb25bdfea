package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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

// requestTimeout bounds one request: connect, send, read the answer.
const requestTimeout = 2 * time.Second

// asker makes one request to vip:port from the client and returns the
// pod's answer. The process lab's pods speak a line protocol (lineAsker),
// the cluster lab's test server HTTP (httpAsker); both answer
// "<pod> <client address:port>".
type asker func(ctx context.Context, vip netip.Addr, port uint16) (answer, error)

// lineAsker asks through dial by sending one line and reading one.
func lineAsker(dial dialer) asker {
	return func(ctx context.Context, vip netip.Addr, port uint16) (answer, error) {
		return ask(ctx, dial, vip, port)
	}
}

// httpAsker asks through dial with an HTTP GET on a new connection.
func httpAsker(dial dialer) asker {
	hc := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	return func(ctx context.Context, vip netip.Addr, port uint16) (answer, error) {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		url := "http://" + netip.AddrPortFrom(vip, port).String() + "/"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return answer{}, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return answer{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if err != nil {
			return answer{}, fmt.Errorf("read from %s: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return answer{}, fmt.Errorf("%s: %s %q", url, resp.Status, b)
		}
		return parseAnswer(string(b))
	}
}

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
func askRetry(ctx context.Context, ask asker, vip netip.Addr, port uint16, tries int) (answer, error) {
	var err error
	for i := 0; i < tries; i++ {
		var a answer
		if a, err = ask(ctx, vip, port); err == nil {
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
