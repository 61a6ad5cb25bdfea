package main

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// noRoute against a real routing table: a network namespace of its own
// whose loopback carries routes to one documentation prefix per family.
// The addresses are asked three times over, in an order that follows each
// routed one with an unrouted one and back, through the same two sockets:
// one connected before must not answer for the next. Then the routes are
// deleted, and the same sockets must see them gone.
func TestNoRouteReadsTheRoutingTable(t *testing.T) {
	type result struct {
		got map[string]bool
		err error
	}
	done := make(chan result)
	go func() {
		// The thread enters a namespace of its own and is never unlocked:
		// Go ends it with the goroutine.
		runtime.LockOSThread()
		if _, err := netns.New(); err != nil {
			done <- result{err: err}
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		for _, dst := range []string{"192.0.2.0/24", "2001:db8:1::/64"} {
			if err == nil {
				_, n, _ := net.ParseCIDR(dst)
				err = netlink.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: n})
			}
		}
		got := map[string]bool{}
		var r routeLookup
		var sockets map[int]int
		for round := range 3 {
			for _, a := range []string{"192.0.2.7:80", "198.51.100.7:80", "[::ffff:192.0.2.7]:80", "[2001:db8:1::7]:443", "[2001:db8:2::7]:443", "[2001:db8:1::8]:443"} {
				no := r.noRoute(netip.MustParseAddrPort(a))
				if prev, ok := got[a]; ok && prev != no {
					err = fmt.Errorf("round %d: noRoute(%s) = %v, was %v", round, a, no, prev)
				}
				got[a] = no
			}
			if round == 0 {
				sockets = maps.Clone(r.fds)
			}
		}
		if !maps.Equal(sockets, r.fds) || len(sockets) != 2 {
			err = fmt.Errorf("sockets by family %v after the first round, %v after the third: want the same two", sockets, r.fds)
		}
		// The routes go, as with a link down: the same sockets, asked
		// for the addresses they last reached, must see it.
		for _, dst := range []string{"192.0.2.0/24", "2001:db8:1::/64"} {
			_, n, _ := net.ParseCIDR(dst)
			if derr := netlink.RouteDel(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: n}); derr != nil && err == nil {
				err = fmt.Errorf("delete the route to %s: %w", dst, derr)
			}
		}
		for _, a := range []string{"192.0.2.7:80", "[2001:db8:1::8]:443"} {
			if !r.noRoute(netip.MustParseAddrPort(a)) && err == nil {
				err = fmt.Errorf("noRoute(%s) = false after its route was deleted", a)
			}
		}
		done <- result{got, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("in the namespace: %v", r.err)
	}
	want := map[string]bool{"192.0.2.7:80": false, "[::ffff:192.0.2.7]:80": false, "198.51.100.7:80": true, "[2001:db8:1::7]:443": false, "[2001:db8:2::7]:443": true, "[2001:db8:1::8]:443": false}
	for a, w := range want {
		if r.got[a] != w {
			t.Errorf("noRoute(%s) = %v, want %v", a, r.got[a], w)
		}
	}
}

// BenchmarkRouteLookup compares a check through the reused sockets with
// one through a socket of its own (socket, connect, close), in the host's
// namespace against loopback.
func BenchmarkRouteLookup(b *testing.B) {
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	b.Run("reused", func(b *testing.B) {
		var r routeLookup
		defer r.close()
		for range b.N {
			r.noRoute(addr)
		}
	})
	b.Run("socket-per-check", func(b *testing.B) {
		for range b.N {
			var r routeLookup
			r.noRoute(addr)
			r.close()
		}
	})
}
