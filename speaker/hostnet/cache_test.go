package hostnet

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The cache against a real kernel: a network namespace of its own. It
// reads on every call until it watches, then only after the kernel
// announced a change, and every change it is told of shows in the next
// call.
func TestLinksReadAgainOnlyAfterAChange(t *testing.T) {
	ns := newNamespace(t)
	var reads atomic.Int32
	c := newCache(func() ([]Link, error) { reads.Add(1); return Read() }, nil)
	var links []Link
	call := func() {
		inNamespace(t, ns, func() (err error) { links, err = c.Links(); return err })
	}
	lo := func() Link {
		for _, l := range links {
			if l.Name == "lo" {
				return l
			}
		}
		t.Fatalf("no lo in %+v", links)
		return Link{}
	}
	// reread calls until what it sees satisfies ok (the notification
	// arrives a moment after the change).
	reread := func(what string, ok func(Link) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			call()
			if ok(lo()) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: lo is still %+v", what, lo())
			}
		}
	}

	call()
	call()
	if n := reads.Load(); n != 2 {
		t.Fatalf("before it watches: %d reads for 2 calls, want 2", n)
	}
	if lo().Flags&net.FlagUp != 0 {
		t.Fatalf("lo of a new namespace is up: %+v", lo())
	}

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() {
		runtime.LockOSThread() // in ns for good: Go ends the thread with the goroutine
		if err := netns.Set(ns); err != nil {
			stopped <- err
			return
		}
		stopped <- c.Run(ctx)
	}()
	for !c.watching.Load() {
		time.Sleep(time.Millisecond)
	}
	before := reads.Load()
	call()
	call()
	call()
	if n := reads.Load() - before; n != 1 {
		t.Fatalf("watching, nothing changed: %d reads for 3 calls, want 1", n)
	}

	inNamespace(t, ns, func() error {
		l, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	reread("link set up", func(l Link) bool { return l.Flags&net.FlagUp != 0 })

	addr := netip.MustParsePrefix("192.0.2.1/24")
	inNamespace(t, ns, func() error {
		l, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}})
	})
	reread("address added", func(l Link) bool { return slices.Contains(l.Prefixes, addr) })

	inNamespace(t, ns, func() error {
		l, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}})
	})
	reread("default route added", func(l Link) bool { return l.DefaultRoute4 && !l.DefaultRoute6 })

	time.Sleep(50 * time.Millisecond) // the last notifications in
	call()
	before = reads.Load()
	call()
	call()
	if n := reads.Load() - before; n != 0 {
		t.Fatalf("watching, nothing changed since the last call: %d reads for 2 calls, want 0", n)
	}

	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c.watching.Load() {
		t.Fatal("still watching after Run returned")
	}
}

// newNamespace creates a network namespace, closed when the test ends.
func newNamespace(t *testing.T) netns.NsHandle {
	var ns netns.NsHandle
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread leaves with the goroutine
		ns, err = netns.New()
	}()
	<-done
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// inNamespace runs f on a thread in ns; its error fails the test.
func inNamespace(t *testing.T, ns netns.NsHandle, f func() error) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread leaves with the goroutine
		if err := netns.Set(ns); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
