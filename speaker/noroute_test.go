package main

import (
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// noRoute against a real routing table: a network namespace of its own
// whose loopback carries routes to one documentation prefix per family.
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
		for _, a := range []string{"192.0.2.7:80", "[::ffff:192.0.2.7]:80", "198.51.100.7:80", "[2001:db8:1::7]:443", "[2001:db8:2::7]:443"} {
			got[a] = noRoute(netip.MustParseAddrPort(a))
		}
		done <- result{got, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("namespace set-up: %v", r.err)
	}
	want := map[string]bool{"192.0.2.7:80": false, "[::ffff:192.0.2.7]:80": false, "198.51.100.7:80": true, "[2001:db8:1::7]:443": false, "[2001:db8:2::7]:443": true}
	for a, w := range want {
		if r.got[a] != w {
			t.Errorf("noRoute(%s) = %v, want %v", a, r.got[a], w)
		}
	}
}
