package nftables

import (
	"errors"
	"fmt"
	"net"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// flushUDP deletes conntrack entries of UDP "connections" to a service (to
// one backend if f.backend is valid). DNAT is decided on a flow's first
// packet only, so without this a client that keeps sending would keep
// reaching a backend that is gone (kube-proxy does the same).
func (b *Backend) flushUDP(f udpFlow) error {
	filter := &vnl.ConntrackFilter{}
	if err := filter.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return err
	}
	if err := filter.AddIP(vnl.ConntrackOrigDstIP, net.IP(f.key.VIP.AsSlice())); err != nil {
		return err
	}
	if err := filter.AddPort(vnl.ConntrackOrigDstPort, f.key.Port); err != nil {
		return err
	}
	if f.backend.IsValid() {
		if err := filter.AddIP(vnl.ConntrackReplySrcIP, net.IP(f.backend.AsSlice())); err != nil {
			return err
		}
	}
	family := vnl.InetFamily(unix.AF_INET)
	if f.key.VIP.Is6() {
		family = unix.AF_INET6
	}
	// An interrupted dump returns part of the table: read it again (see
	// the IPVS backend's flushUDP).
	var n uint
	var err error
	for range 5 {
		var k uint
		k, err = b.ct.ConntrackDeleteFilters(vnl.ConntrackTable, family, filter)
		n += k
		if !errors.Is(err, vnl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("delete UDP conntrack entries of %s (backend %v): %w", f.key, f.backend, err)
	}
	b.log.Debug("deleted UDP conntrack entries", "service", f.key.String(), "backend", f.backend, "count", n)
	return nil
}
