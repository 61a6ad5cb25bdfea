package hostnet

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
)

// Cache hands out the host's links, read again only after a change. Run
// owns the watch.
type Cache struct {
	read func() ([]Link, error)
	log  *slog.Logger
	// gen counts the kernel's change notifications (and anything that
	// may have hidden one); watching is true while they are heard. A
	// watch counts one before it starts, so gen is at least 1 whenever
	// the cache is read and linksGen 0 means nothing cached.
	gen      atomic.Uint64
	watching atomic.Bool

	mu       sync.Mutex
	links    []Link
	linksGen uint64 // gen when links were read
}

// NewCache returns a cache reading the host with Read.
func NewCache(log *slog.Logger) *Cache { return newCache(Read, log) }

func newCache(read func() ([]Link, error), log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{read: read, log: log}
}

// Links returns the host's links: the last read's when the kernel
// announced no change since, else a new read. While the cache does not
// watch (before Run, and after its watch failed until it watches again)
// every call reads. Callers must not modify what it returns.
func (c *Cache) Links() ([]Link, error) {
	if !c.watching.Load() {
		return c.read()
	}
	// The generation is taken before the read: a change announced during
	// it leaves the result stale for the next call, which reads again.
	g := c.gen.Load()
	c.mu.Lock()
	if c.linksGen == g {
		links := c.links
		c.mu.Unlock()
		return links, nil
	}
	c.mu.Unlock()
	links, err := c.read()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.links, c.linksGen = links, g
	c.mu.Unlock()
	return links, nil
}

// retryWatch is the pause before watching again after a watch failed.
const retryWatch = time.Second

// Run watches the kernel's link, address and route notifications until
// ctx ends.
func (c *Cache) Run(ctx context.Context) error {
	for {
		err := c.watch(ctx)
		c.watching.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("host network watch ended; the host is read on every use until it watches again", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryWatch):
		}
	}
}

// watch subscribes to the notifications and counts them until ctx ends or
// a subscription ends (its socket failed: notifications may have been
// lost, for example when its buffer overflowed).
func (c *Cache) watch(ctx context.Context) error {
	done := make(chan struct{})
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	subscribed := []func(){}
	defer func() {
		// Closing done closes the sockets; each subscription's goroutine
		// then closes its channel, after delivering what it still had.
		close(done)
		for _, drain := range subscribed {
			drain()
		}
	}()
	// An error that leaves a subscription running (an unreadable
	// message) may still have hidden a change.
	invalidate := func(error) { c.gen.Add(1) }
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{ErrorCallback: invalidate}); err != nil {
		return err
	}
	subscribed = append(subscribed, func() { drain(links) })
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{ErrorCallback: invalidate}); err != nil {
		return err
	}
	subscribed = append(subscribed, func() { drain(addrs) })
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{ErrorCallback: invalidate}); err != nil {
		return err
	}
	subscribed = append(subscribed, func() { drain(routes) })
	// What was read before the watch began may be stale.
	c.gen.Add(1)
	c.watching.Store(true)
	for {
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case _, ok = <-links:
		case _, ok = <-addrs:
		case _, ok = <-routes:
		}
		c.gen.Add(1)
		if !ok {
			return errors.New("a netlink subscription ended")
		}
	}
}

func drain[T any](ch <-chan T) {
	for range ch {
	}
}
