package ipvs

import (
	"maps"
	"net"
	"net/netip"
	"time"

	"github.com/moby/ipvs"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// Service flags (include/uapi/linux/ip_vs.h).
const (
	flagPersistent = 0x0001 // IP_VS_SVC_F_PERSISTENT
	flagHashed     = 0x0002 // IP_VS_SVC_F_HASHED: set by the kernel, never by us
	flagSched1     = 0x0008 // IP_VS_SVC_F_SCHED1: sh-fallback / mh-fallback
	flagSched2     = 0x0010 // IP_VS_SVC_F_SCHED2: sh-port / mh-port
)

// kService is a virtual service as IronLB writes it and reads it back: the
// attributes that matter, in the kernel's terms, so that comparing two tells
// whether a write is needed.
type kService struct {
	sched   string
	flags   uint32 // without flagHashed
	timeout uint32 // persistence timeout, seconds
	netmask uint32 // persistence granularity: one client address
	dests   map[netip.AddrPort]kDest
}

type kDest struct {
	weight int
	fwd    uint32 // forwarding method; IronLB uses masquerading (0)
}

// sameAttrs reports whether UpdateService is not needed.
func (s kService) sameAttrs(o kService) bool {
	return s.sched == o.sched && s.flags == o.flags && s.timeout == o.timeout && s.netmask == o.netmask
}

// usable reports whether a destination takes new connections.
func (s *kService) usable() bool {
	if s == nil {
		return false
	}
	for _, d := range s.dests {
		if d.weight > 0 {
			return true
		}
	}
	return false
}

func (s kService) clone() kService {
	s.dests = maps.Clone(s.dests)
	if s.dests == nil {
		s.dests = map[netip.AddrPort]kDest{}
	}
	return s
}

// maxWeight bounds destination weights: the kernel takes up to INT_MAX,
// but moby/ipvs reads weights back as 16-bit numbers, and a larger one
// would look changed on every resync.
const maxWeight = 1<<16 - 1

// desiredService turns one virtual service of the State into IPVS terms.
func desiredService(k datapath.ServiceKey, vs datapath.VirtualService) kService {
	s := kService{sched: string(vs.Scheduler), dests: make(map[netip.AddrPort]kDest, len(vs.Backends))}
	if s.sched == "" {
		s.sched = string(datapath.DefaultScheduler)
	}
	if vs.Scheduler == datapath.SourceHashing || vs.Scheduler == datapath.MaglevHashing {
		if vs.Flags.Fallback {
			s.flags |= flagSched1
		}
		if vs.Flags.Port {
			s.flags |= flagSched2
		}
	}
	// Persistence granularity, one client address: a /32 mask, or for IPv6
	// a prefix length (the kernel rejects an IPv6 service without one, so
	// it is set whether or not the service is persistent, as ipvsadm does).
	s.netmask = 0xffffffff
	if k.VIP.Is6() {
		s.netmask = 128
	}
	if vs.Persistence > 0 {
		s.flags |= flagPersistent
		s.timeout = uint32((vs.Persistence + time.Second - 1) / time.Second)
	}
	for a, b := range vs.Backends {
		s.dests[a] = kDest{weight: min(max(b.Weight, 0), maxWeight), fwd: ipvs.ConnectionFlagMasq}
	}
	return s
}

var protoNumbers = map[datapath.Protocol]uint16{datapath.TCP: unix.IPPROTO_TCP, datapath.UDP: unix.IPPROTO_UDP, datapath.SCTP: unix.IPPROTO_SCTP}

func protoFromNumber(n uint16) (datapath.Protocol, bool) {
	for p, v := range protoNumbers {
		if v == n {
			return p, true
		}
	}
	return "", false
}

func family(a netip.Addr) uint16 {
	if a.Is6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// serviceID is the moby/ipvs form that identifies a service, with
// attributes for NewService/UpdateService.
func serviceID(k datapath.ServiceKey, s kService) *ipvs.Service {
	return &ipvs.Service{
		Address:       net.IP(k.VIP.AsSlice()),
		Protocol:      protoNumbers[k.Protocol],
		Port:          k.Port,
		AddressFamily: family(k.VIP),
		SchedName:     s.sched,
		Flags:         s.flags,
		Timeout:       s.timeout,
		Netmask:       s.netmask,
	}
}

func destination(a netip.AddrPort, d kDest) *ipvs.Destination {
	return &ipvs.Destination{
		Address:         net.IP(a.Addr().AsSlice()),
		Port:            a.Port(),
		Weight:          d.weight,
		ConnectionFlags: d.fwd,
		AddressFamily:   family(a.Addr()),
	}
}

// keyOf reads a kernel service's identity. ok is false for services IronLB
// never creates (firewall-mark services, protocols it does not use).
func keyOf(s *ipvs.Service) (datapath.ServiceKey, bool) {
	if s.FWMark != 0 {
		return datapath.ServiceKey{}, false
	}
	p, ok := protoFromNumber(s.Protocol)
	if !ok {
		return datapath.ServiceKey{}, false
	}
	a, ok := netip.AddrFromSlice(s.Address)
	if !ok {
		return datapath.ServiceKey{}, false
	}
	a = a.Unmap()
	if (s.AddressFamily == unix.AF_INET6) != a.Is6() {
		return datapath.ServiceKey{}, false
	}
	return datapath.ServiceKey{VIP: a, Port: s.Port, Protocol: p}, true
}

// kernelService reads a service and its destinations back.
func kernelService(s *ipvs.Service, dests []*ipvs.Destination) kService {
	ks := kService{sched: s.SchedName, flags: s.Flags &^ flagHashed, timeout: s.Timeout, netmask: s.Netmask,
		dests: make(map[netip.AddrPort]kDest, len(dests))}
	for _, d := range dests {
		a, ok := netip.AddrFromSlice(d.Address)
		if !ok {
			continue
		}
		ks.dests[netip.AddrPortFrom(a.Unmap(), d.Port)] = kDest{weight: d.Weight, fwd: d.ConnectionFlags & ipvs.ConnectionFlagFwdMask}
	}
	return ks
}
