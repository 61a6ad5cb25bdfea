package ipvs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/ipvs"
)

// hangConn answers GetServices after delay, or never if block is set, and
// records whether it was closed.
type hangConn struct {
	conn
	block  chan struct{}
	mu     sync.Mutex
	closed bool
}

func (h *hangConn) GetServices() ([]*ipvs.Service, error) {
	if h.block != nil {
		<-h.block
		return nil, errors.New("socket closed")
	}
	return []*ipvs.Service{{Port: 80}}, nil
}

func (h *hangConn) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed && h.block != nil {
		close(h.block) // as closing the netlink socket ends the receive loop
	}
	h.closed = true
}

func TestHandleTimeoutReplacesConnection(t *testing.T) {
	var opened []*hangConn
	hang := true
	h := newHandle(func() (conn, error) {
		c := &hangConn{}
		if hang {
			c.block = make(chan struct{})
		}
		opened = append(opened, c)
		return c, nil
	}, 50*time.Millisecond)
	ctx := context.Background()

	_, err := call(ctx, h, "list services", func(c conn) ([]*ipvs.Service, error) { return c.GetServices() })
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if !opened[0].closed {
		t.Error("the hung connection was not closed")
	}
	if h.reopenCount() != 1 {
		t.Errorf("reopens = %d, want 1", h.reopenCount())
	}

	hang = false
	svcs, err := call(ctx, h, "list services", func(c conn) ([]*ipvs.Service, error) { return c.GetServices() })
	if err != nil || len(svcs) != 1 {
		t.Fatalf("after reopen: %v, %v", svcs, err)
	}
	if len(opened) != 2 {
		t.Errorf("%d connections opened, want 2", len(opened))
	}
	// The healthy connection is reused.
	if _, err := call(ctx, h, "list", func(c conn) ([]*ipvs.Service, error) { return c.GetServices() }); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 2 {
		t.Errorf("%d connections opened, want 2 (reuse)", len(opened))
	}
}

func TestHandleContextCancelDiscards(t *testing.T) {
	c := &hangConn{block: make(chan struct{})}
	h := newHandle(func() (conn, error) { return c, nil }, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	err := do(ctx, h, "list", func(c conn) error { _, err := c.GetServices(); return err })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !c.closed {
		t.Error("connection not closed after cancel")
	}
	// A cancelled context fails fast without opening anything.
	if err := do(ctx, h, "list", func(conn) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestHandleSerialises(t *testing.T) {
	h := newHandle(func() (conn, error) { return &hangConn{}, nil }, time.Second)
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = do(context.Background(), h, "x", func(conn) error {
				mu.Lock()
				inside++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				return nil
			})
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Errorf("%d calls ran at once, want 1", maxInside)
	}
}

func TestHandleOpenError(t *testing.T) {
	h := newHandle(func() (conn, error) { return nil, errors.New("no netlink") }, time.Second)
	err := do(context.Background(), h, "list", func(conn) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "open netlink handle: no netlink") {
		t.Fatalf("err = %v", err)
	}
}
