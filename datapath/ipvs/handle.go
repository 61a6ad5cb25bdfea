package ipvs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/moby/ipvs"
)

// conn is the part of *ipvs.Handle the backend uses; tests substitute a
// fake that can hang.
type conn interface {
	GetServices() ([]*ipvs.Service, error)
	GetDestinations(*ipvs.Service) ([]*ipvs.Destination, error)
	NewService(*ipvs.Service) error
	UpdateService(*ipvs.Service) error
	DelService(*ipvs.Service) error
	NewDestination(*ipvs.Service, *ipvs.Destination) error
	UpdateDestination(*ipvs.Service, *ipvs.Destination) error
	DelDestination(*ipvs.Service, *ipvs.Destination) error
	Close()
}

// handle serialises every IPVS call and puts a deadline on it. moby/ipvs
// loops forever on a lost reply (its receive timeout only makes it retry),
// so each call runs in its own goroutine; when the deadline passes the
// connection is closed, which ends that goroutine within the library's
// 3 s receive timeout, and the next call opens a new one.
type handle struct {
	open    func() (conn, error)
	timeout time.Duration

	mu      sync.Mutex
	c       conn
	reopens int
}

func newHandle(open func() (conn, error), timeout time.Duration) *handle {
	return &handle{open: open, timeout: timeout}
}

// call runs fn on the connection, opening one if needed.
func call[T any](ctx context.Context, h *handle, what string, fn func(conn) (T, error)) (T, error) {
	var zero T
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("ipvs %s: %w", what, err)
	}
	if h.c == nil {
		c, err := h.open()
		if err != nil {
			return zero, fmt.Errorf("ipvs %s: open netlink handle: %w", what, err)
		}
		h.c = c
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call must not block
	c := h.c
	go func() {
		v, err := fn(c)
		done <- result{v, err}
	}()
	timer := time.NewTimer(h.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return zero, fmt.Errorf("ipvs %s: %w", what, r.err)
		}
		return r.v, nil
	case <-timer.C:
		h.discard()
		return zero, fmt.Errorf("ipvs %s: no answer within %s; netlink handle replaced", what, h.timeout)
	case <-ctx.Done():
		// The call may or may not have happened; the connection may still
		// deliver its answer later, so it cannot be reused.
		h.discard()
		return zero, fmt.Errorf("ipvs %s: %w", what, ctx.Err())
	}
}

// do is call for operations without a result.
func do(ctx context.Context, h *handle, what string, fn func(conn) error) error {
	_, err := call(ctx, h, what, func(c conn) (struct{}, error) { return struct{}{}, fn(c) })
	return err
}

func (h *handle) discard() {
	h.c.Close()
	h.c = nil
	h.reopens++
}

// Close closes the connection; the handle can be used again (it reopens).
func (h *handle) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		h.c.Close()
		h.c = nil
	}
}

func (h *handle) reopenCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reopens
}
