package hostnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Link is one network interface of the host.
type Link struct {
	Name string
	// Flags as the kernel reports them (net.FlagUp, net.FlagRunning,
	// net.FlagLoopback, ...).
	Flags net.Flags
	// Prefixes are its addresses with their prefix lengths.
	Prefixes []netip.Prefix
	// DefaultRoute4 and DefaultRoute6: it carries a default route of the
	// family (main table).
	DefaultRoute4, DefaultRoute6 bool
}

// Read reads the host's links from the kernel now: one dump each of
// links, addresses and the default routes of both families.
func Read() ([]Link, error) {
	links, err := dump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	byIndex := make(map[int]int, len(links))
	out := make([]Link, len(links))
	for i, l := range links {
		a := l.Attrs()
		byIndex[a.Index] = i
		out[i] = Link{Name: a.Name, Flags: a.Flags}
	}
	for _, a := range addrs {
		i, ok := byIndex[a.LinkIndex]
		if !ok || a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out[i].Prefixes = append(out[i].Prefixes, netip.PrefixFrom(ip.Unmap(), ones))
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := dump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, family) })
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones != 0 {
					continue
				}
			}
			// A multipath default route names its links per hop.
			idx := []int{r.LinkIndex}
			for _, h := range r.MultiPath {
				idx = append(idx, h.LinkIndex)
			}
			for _, x := range idx {
				if i, ok := byIndex[x]; ok {
					if family == netlink.FAMILY_V4 {
						out[i].DefaultRoute4 = true
					} else {
						out[i].DefaultRoute6 = true
					}
				}
			}
		}
	}
	return out, nil
}

// dump runs a netlink dump, again when it raced with a change (the kernel
// then marks it interrupted and its answer may be incomplete).
func dump[T any](list func() ([]T, error)) ([]T, error) {
	out, err := list()
	for i := 0; i < 5 && errors.Is(err, netlink.ErrDumpInterrupted); i++ {
		out, err = list()
	}
	return out, err
}
