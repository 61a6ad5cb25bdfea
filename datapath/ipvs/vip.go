package ipvs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureLink returns the dummy interface, creating it and bringing it up
// as needed. An interface of that name that is not a dummy is not IronLB's
// and is left alone (an error).
func ensureLink(nl *vnl.Handle, name string) (vnl.Link, bool, error) {
	created := false
	l, err := nl.LinkByName(name)
	var notFound vnl.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		if err := nl.LinkAdd(&vnl.Dummy{LinkAttrs: vnl.LinkAttrs{Name: name}}); err != nil {
			return nil, false, fmt.Errorf("create dummy interface %s: %w", name, err)
		}
		created = true
		if l, err = nl.LinkByName(name); err != nil {
			return nil, false, fmt.Errorf("find interface %s after creating it: %w", name, err)
		}
	case err != nil:
		return nil, false, fmt.Errorf("find interface %s: %w", name, err)
	}
	if l.Type() != "dummy" {
		return nil, false, fmt.Errorf("interface %s exists and is a %s, not IronLB's dummy interface; choose another name", name, l.Type())
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		// Local routes of the addresses exist only while it is up.
		if err := nl.LinkSetUp(l); err != nil {
			return nil, false, fmt.Errorf("bring %s up: %w", name, err)
		}
	}
	return l, created, nil
}

// linkVIPs lists the addresses on the dummy (link-local ones, which the
// kernel adds itself, are not VIPs).
func linkVIPs(nl *vnl.Handle, l vnl.Link) (map[netip.Addr]bool, error) {
	// A dump that raced with an address change (ours, or the kernel's own
	// link-local address) is reported as interrupted: read it again.
	var addrs []vnl.Addr
	var err error
	for range 5 {
		if addrs, err = nl.AddrList(l, vnl.FAMILY_ALL); !errors.Is(err, vnl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	out := map[netip.Addr]bool{}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.IsLinkLocalUnicast() {
			continue
		}
		out[ip] = true
	}
	return out, nil
}

// vipAddr is a VIP as an interface address: a host prefix, no prefix route,
// and for IPv6 no duplicate address detection (the address is meant to be
// on several nodes at once; only the speaker decides who answers for it).
func vipAddr(a netip.Addr) *vnl.Addr {
	bits := a.BitLen()
	flags := unix.IFA_F_NOPREFIXROUTE
	if a.Is6() {
		flags |= unix.IFA_F_NODAD
	}
	return &vnl.Addr{IPNet: &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, bits)}, Flags: flags}
}

func addVIP(nl *vnl.Handle, l vnl.Link, a netip.Addr) error {
	if err := nl.AddrReplace(l, vipAddr(a)); err != nil {
		return fmt.Errorf("add VIP %s to %s: %w", a, l.Attrs().Name, err)
	}
	return nil
}

func delVIP(nl *vnl.Handle, l vnl.Link, a netip.Addr) error {
	if err := nl.AddrDel(l, vipAddr(a)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove VIP %s from %s: %w", a, l.Attrs().Name, err)
	}
	return nil
}
