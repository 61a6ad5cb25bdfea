package ipvs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// udpFlows matches the conntrack entries of UDP flows to a service, all of
// them or (backend valid) those going to one endpoint. With
// net.ipv4.vs.conntrack=1 an IPVS flow's entry has the VIP:port as its
// original destination and the endpoint as its reply source.
type udpFlows struct {
	key     datapath.ServiceKey
	backend netip.AddrPort
}

func addrIs(ip net.IP, a netip.Addr) bool {
	b, ok := netip.AddrFromSlice(ip)
	return ok && b.Unmap() == a
}

// MatchConntrackFlow implements vnl.CustomConntrackFilter.
func (f udpFlows) MatchConntrackFlow(flow *vnl.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP || flow.Forward.DstPort != f.key.Port || !addrIs(flow.Forward.DstIP, f.key.VIP) {
		return false
	}
	if !f.backend.IsValid() {
		return true
	}
	return flow.Reverse.SrcPort == f.backend.Port() && addrIs(flow.Reverse.SrcIP, f.backend.Addr())
}

// flushUDP deletes the matching entries.
func flushUDP(ct *vnl.Handle, f udpFlows) (uint, error) {
	fam := vnl.InetFamily(unix.AF_INET)
	if f.key.VIP.Is6() {
		fam = unix.AF_INET6
	}
	// A dump interrupted by concurrent conntrack changes (the very traffic
	// being cleaned up) returns part of the table: delete what it had and
	// read it again, so no flow of the removed endpoint survives.
	var n uint
	var err error
	for range 5 {
		var k uint
		k, err = ct.ConntrackDeleteFilters(vnl.ConntrackTable, fam, f)
		n += k
		if !errors.Is(err, vnl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return n, fmt.Errorf("delete UDP conntrack entries of %s (endpoint %v): %w", f.key, f.backend, err)
	}
	return n, nil
}
