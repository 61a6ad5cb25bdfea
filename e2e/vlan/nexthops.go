package vlan

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// NextHops reads the host's kernel routes (main table, both families) as
// the gateways of each destination prefix, sorted: one for a plain route,
// every path's for a multipath (ECMP) one. Routes without a gateway are
// left out. It asks the kernel over netlink, in well under a millisecond,
// so a test can poll it to see when a route changed.
func (h *Host) NextHops() (map[netip.Prefix][]netip.Addr, error) {
	routes, err := h.ns.nl.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("host %s: list routes: %w", h.Name, err)
	}
	return nextHops(routes), nil
}

// nextHops is NextHops' reading of the kernel's routes.
func nextHops(routes []netlink.Route) map[netip.Prefix][]netip.Addr {
	out := map[netip.Prefix][]netip.Addr{}
	for _, r := range routes {
		if r.Dst == nil {
			continue // a default route
		}
		dst, ok := ipNetToPrefix(r.Dst)
		if !ok {
			continue
		}
		var hops []netip.Addr
		if gw, ok := netip.AddrFromSlice(r.Gw); ok && len(r.Gw) > 0 {
			hops = append(hops, gw.Unmap())
		}
		for _, p := range r.MultiPath {
			if gw, ok := netip.AddrFromSlice(p.Gw); ok && len(p.Gw) > 0 {
				hops = append(hops, gw.Unmap())
			}
		}
		if len(hops) > 0 {
			// Older kernels dump an IPv6 ECMP route as one route per path.
			out[dst] = append(out[dst], hops...)
		}
	}
	for _, hops := range out {
		slices.SortFunc(hops, netip.Addr.Compare)
	}
	return out
}

func ipNetToPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
