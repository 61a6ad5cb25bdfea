package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// dialIn opens a connection from inside the named network namespace (a
// lab host's, from a process that does not own the lab). The socket stays
// in that namespace for its whole life. The thread that switches is locked
// and switched back; if it cannot be, it stays locked and exits with its
// goroutine, so no thread ever runs Go code in the wrong namespace.
func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("network namespace %s: %w", ns, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter network namespace %s: %w", ns, err)}
			return
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if rerr := netns.Set(orig); rerr != nil {
			if conn != nil {
				conn.Close()
			}
			ch <- result{err: errors.Join(err, fmt.Errorf("leave network namespace %s: %w", ns, rerr))}
			return // still locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}
