package vlan

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// EtherTypes and protocol numbers that Frame decodes.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeIPv6 = 0x86dd

	ARPRequest = 1
	ARPReply   = 2

	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58

	ICMPv6EchoRequest           = 128
	ICMPv6EchoReply             = 129
	ICMPv6NeighborSolicitation  = 135
	ICMPv6NeighborAdvertisement = 136
)

// Frame is one Ethernet frame seen on the LAN bridge, decoded as far as the
// tests need.
type Frame struct {
	Time time.Time // kernel receive time
	// Port is the host whose link carried the frame into the bridge, i.e.
	// the host that sent it (or forwarded it).
	Port      string
	Src, Dst  net.HardwareAddr
	EtherType uint16 // after any 802.1Q tag
	VLAN      uint16 // 0 when untagged
	Len       int    // frame length on the wire (without FCS)

	// IPv4/IPv6 only.
	SrcIP, DstIP     netip.Addr
	Protocol         uint8  // IP protocol / next header (after a hop-by-hop header)
	SrcPort, DstPort uint16 // TCP and UDP only
	// Payload is the UDP payload (a copy), for tests that replay packets.
	Payload []byte

	ARP    *ARPPacket    // ARP only
	ICMPv6 *ICMPv6Packet // ICMPv6 only
}

// ARPPacket is an Ethernet/IPv4 ARP message.
type ARPPacket struct {
	Op                   uint16 // ARPRequest or ARPReply
	SenderMAC, TargetMAC net.HardwareAddr
	SenderIP, TargetIP   netip.Addr
}

// ICMPv6Packet is an ICMPv6 header with the neighbour discovery fields.
type ICMPv6Packet struct {
	Type, Code uint8
	// Target is the target address of a neighbour solicitation or
	// advertisement.
	Target netip.Addr
	// LinkAddr is the source (NS) or target (NA) link-layer address option.
	LinkAddr net.HardwareAddr
	// Router, Solicited and Override are the NA flags.
	Router, Solicited, Override bool
}

// IsARPReply reports whether f is an ARP reply (including gratuitous ARP
// sent as a reply).
func (f Frame) IsARPReply() bool { return f.ARP != nil && f.ARP.Op == ARPReply }

// IsARPRequest reports whether f is an ARP request (including gratuitous
// ARP sent as a request).
func (f Frame) IsARPRequest() bool { return f.ARP != nil && f.ARP.Op == ARPRequest }

// IsNS reports whether f is an IPv6 neighbour solicitation.
func (f Frame) IsNS() bool {
	return f.ICMPv6 != nil && f.ICMPv6.Type == ICMPv6NeighborSolicitation
}

// IsNA reports whether f is an IPv6 neighbour advertisement.
func (f Frame) IsNA() bool {
	return f.ICMPv6 != nil && f.ICMPv6.Type == ICMPv6NeighborAdvertisement
}

func (f Frame) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-8s %s > %s", f.Time.Format("15:04:05.000000"), f.Port, f.Src, f.Dst)
	switch {
	case f.ARP != nil:
		if f.ARP.Op == ARPReply {
			fmt.Fprintf(&b, " ARP reply %s is-at %s", f.ARP.SenderIP, f.ARP.SenderMAC)
		} else {
			fmt.Fprintf(&b, " ARP request who-has %s tell %s (%s)", f.ARP.TargetIP, f.ARP.SenderIP, f.ARP.SenderMAC)
		}
	case f.ICMPv6 != nil:
		fmt.Fprintf(&b, " ICMPv6 %s > %s type %d", f.SrcIP, f.DstIP, f.ICMPv6.Type)
		if f.ICMPv6.Target.IsValid() {
			fmt.Fprintf(&b, " target %s lladdr %s", f.ICMPv6.Target, f.ICMPv6.LinkAddr)
		}
	case f.SrcIP.IsValid():
		fmt.Fprintf(&b, " IP %s:%d > %s:%d proto %d", f.SrcIP, f.SrcPort, f.DstIP, f.DstPort, f.Protocol)
	default:
		fmt.Fprintf(&b, " ethertype %#04x", f.EtherType)
	}
	fmt.Fprintf(&b, " len %d", f.Len)
	return b.String()
}

// parseFrame decodes b; what it cannot decode stays zero.
func parseFrame(b []byte) Frame {
	f := Frame{Len: len(b)}
	if len(b) < 14 {
		return f
	}
	f.Dst = append(net.HardwareAddr(nil), b[0:6]...)
	f.Src = append(net.HardwareAddr(nil), b[6:12]...)
	f.EtherType = binary.BigEndian.Uint16(b[12:14])
	p := b[14:]
	if f.EtherType == EtherTypeVLAN && len(p) >= 4 {
		f.VLAN = binary.BigEndian.Uint16(p[0:2]) & 0x0fff
		f.EtherType = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	switch f.EtherType {
	case EtherTypeARP:
		f.ARP = parseARP(p)
	case EtherTypeIPv4:
		parseIPv4(&f, p)
	case EtherTypeIPv6:
		parseIPv6(&f, p)
	}
	return f
}

func parseARP(p []byte) *ARPPacket {
	// Ethernet (1) / IPv4 (0x0800), 6-byte and 4-byte addresses.
	if len(p) < 28 || binary.BigEndian.Uint16(p[0:2]) != 1 || binary.BigEndian.Uint16(p[2:4]) != EtherTypeIPv4 || p[4] != 6 || p[5] != 4 {
		return nil
	}
	return &ARPPacket{
		Op:        binary.BigEndian.Uint16(p[6:8]),
		SenderMAC: append(net.HardwareAddr(nil), p[8:14]...),
		SenderIP:  netip.AddrFrom4([4]byte(p[14:18])),
		TargetMAC: append(net.HardwareAddr(nil), p[18:24]...),
		TargetIP:  netip.AddrFrom4([4]byte(p[24:28])),
	}
}

func parseIPv4(f *Frame, p []byte) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < 20 || len(p) < ihl {
		return
	}
	f.Protocol = p[9]
	f.SrcIP = netip.AddrFrom4([4]byte(p[12:16]))
	f.DstIP = netip.AddrFrom4([4]byte(p[16:20]))
	// Ports only in the first fragment.
	if binary.BigEndian.Uint16(p[6:8])&0x1fff == 0 {
		parsePorts(f, p[ihl:])
	}
}

func parseIPv6(f *Frame, p []byte) {
	if len(p) < 40 || p[0]>>4 != 6 {
		return
	}
	f.SrcIP = netip.AddrFrom16([16]byte(p[8:24]))
	f.DstIP = netip.AddrFrom16([16]byte(p[24:40]))
	next, rest := p[6], p[40:]
	// MLD messages come after a hop-by-hop options header.
	if next == 0 && len(rest) >= 8 {
		l := (int(rest[1]) + 1) * 8
		if len(rest) < l {
			return
		}
		next, rest = rest[0], rest[l:]
	}
	f.Protocol = next
	if next == ProtoICMPv6 {
		f.ICMPv6 = parseICMPv6(rest)
		return
	}
	parsePorts(f, rest)
}

func parsePorts(f *Frame, l4 []byte) {
	if (f.Protocol == ProtoTCP || f.Protocol == ProtoUDP) && len(l4) >= 4 {
		f.SrcPort = binary.BigEndian.Uint16(l4[0:2])
		f.DstPort = binary.BigEndian.Uint16(l4[2:4])
	}
	if f.Protocol == ProtoUDP && len(l4) >= 8 {
		// The UDP length, not the frame's end: short frames are padded.
		if n := int(binary.BigEndian.Uint16(l4[4:6])); n >= 8 && n <= len(l4) {
			f.Payload = append([]byte(nil), l4[8:n]...)
		}
	}
}

func parseICMPv6(p []byte) *ICMPv6Packet {
	if len(p) < 4 {
		return nil
	}
	m := &ICMPv6Packet{Type: p[0], Code: p[1]}
	if m.Type != ICMPv6NeighborSolicitation && m.Type != ICMPv6NeighborAdvertisement {
		return m
	}
	if len(p) < 24 {
		return m
	}
	if m.Type == ICMPv6NeighborAdvertisement {
		m.Router, m.Solicited, m.Override = p[4]&0x80 != 0, p[4]&0x40 != 0, p[4]&0x20 != 0
	}
	m.Target = netip.AddrFrom16([16]byte(p[8:24]))
	// Options: type, length in units of 8 bytes, value. 1 = source
	// link-layer address (NS), 2 = target link-layer address (NA).
	for opts := p[24:]; len(opts) >= 8; {
		l := int(opts[1]) * 8
		if l == 0 || len(opts) < l {
			break
		}
		if (opts[0] == 1 || opts[0] == 2) && l >= 8 {
			m.LinkAddr = append(net.HardwareAddr(nil), opts[2:8]...)
		}
		opts = opts[l:]
	}
	return m
}
