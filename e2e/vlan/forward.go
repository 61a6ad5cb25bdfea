package vlan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ForwardTo accepts TCP connections on listenAddr inside the host's
// namespace and connects each to target from the test process's own
// namespace. This is how programs inside a node namespace reach a server on
// the host's loopback, e.g. ForwardTo(ctx, "127.0.0.1:6443",
// apiServerAddr). It returns once listening; forwarding stops, and open
// connections are closed, when ctx is done or the lab closes.
func (h *Host) ForwardTo(ctx context.Context, listenAddr, target string) error {
	ln, err := h.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("host %s: forward %s -> %s: %w", h.Name, listenAddr, target, err)
	}
	err = h.lab.goOwned(func(labCtx context.Context) {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(labCtx, cancel)
		defer stop()
		serveForward(fctx, ln, target)
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("host %s: forward %s -> %s: %w", h.Name, listenAddr, target, err)
	}
	return nil
}

// serveForward owns ln and every connection it accepts; it returns after
// ctx is done and all of them are closed.
func serveForward(ctx context.Context, ln net.Listener, target string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (e.g. out of file descriptors): back off.
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe(ctx, c, target)
		}()
	}
}

// pipe connects in to a new connection to target and copies both ways
// until both directions end or ctx is done.
func pipe(ctx context.Context, in net.Conn, target string) {
	defer in.Close()
	out, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
	if err != nil {
		return
	}
	defer out.Close()
	stop := context.AfterFunc(ctx, func() {
		in.Close()
		out.Close()
	})
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); copyHalf(out, in) }()
	go func() { defer wg.Done(); copyHalf(in, out) }()
	wg.Wait()
}

// copyHalf copies until EOF, then half-closes dst so its peer sees EOF too
// while the other direction may still run. An error (a reset) ends both
// directions.
func copyHalf(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
}
