package layer2

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// mldGroups holds the solicited-node multicast memberships of one
// interface. Joining through an IPv6 socket (rather than only opening the
// NIC's filter for the group's MAC) also makes the kernel send MLD
// reports, without which an MLD-snooping switch never forwards the
// neighbour solicitations for our IPs to this port.
type mldGroups struct {
	fd      int
	ifindex int
	joined  map[netip.Addr]bool
}

// openMLD opens the membership socket; like every socket here it belongs
// to the calling thread's network namespace.
func openMLD(ifindex int) (*mldGroups, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("open IPv6 socket for multicast memberships: %w", err)
	}
	return &mldGroups{fd: fd, ifindex: ifindex, joined: map[netip.Addr]bool{}}, nil
}

// set joins the groups in want and leaves the others.
func (g *mldGroups) set(want map[netip.Addr]bool) error {
	var errs []error
	for grp := range g.joined {
		if !want[grp] {
			if err := g.op(unix.IPV6_LEAVE_GROUP, grp); err != nil {
				errs = append(errs, fmt.Errorf("leave %s: %w", grp, err))
			}
			delete(g.joined, grp)
		}
	}
	for grp := range want {
		if g.joined[grp] {
			continue
		}
		if err := g.op(unix.IPV6_JOIN_GROUP, grp); err != nil {
			errs = append(errs, fmt.Errorf("join %s: %w", grp, err))
			continue
		}
		g.joined[grp] = true
	}
	return errors.Join(errs...)
}

func (g *mldGroups) op(opt int, grp netip.Addr) error {
	mreq := unix.IPv6Mreq{Multiaddr: grp.As16(), Interface: uint32(g.ifindex)}
	return unix.SetsockoptIPv6Mreq(g.fd, unix.IPPROTO_IPV6, opt, &mreq)
}

// close leaves every group (the kernel drops a socket's memberships when
// it is closed).
func (g *mldGroups) close() error {
	if g == nil || g.fd < 0 {
		return nil
	}
	err := unix.Close(g.fd)
	g.fd = -1
	return err
}
