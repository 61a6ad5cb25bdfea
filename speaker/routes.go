package main

import (
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// defaultRouteInterfaces names the interfaces that carry a default route,
// per family; automatic interface selection falls back to them.
func defaultRouteInterfaces() (v4, v6 map[string]bool) {
	return defaultsOf(unix.AF_INET), defaultsOf(unix.AF_INET6)
}

func defaultsOf(family int) map[string]bool {
	out := map[string]bool{}
	routes, err := netlink.RouteList(nil, family)
	for i := 0; i < 5 && errors.Is(err, netlink.ErrDumpInterrupted); i++ {
		routes, err = netlink.RouteList(nil, family) // raced with a change: read again
	}
	if err != nil {
		return out
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			out[l.Attrs().Name] = true
		}
	}
	return out
}
