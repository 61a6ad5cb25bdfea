package layer2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// IPv6 and ICMPv6 constants used by the NDP frames.
const (
	ipv6HeaderLen = 40
	protoICMPv6   = 58
	ndpHopLimit   = 255 // RFC 4861: proves the sender is on-link
	icmpTypeNS    = 135
	icmpTypeNA    = 136
)

var allNodes = netip.MustParseAddr("ff02::1")

// ndpMsg is a neighbour solicitation or advertisement with the IPv6 and
// Ethernet addresses of the packet that carried it.
type ndpMsg struct {
	EthDst, EthSrc net.HardwareAddr
	Src, Dst       netip.Addr
	// NA: an advertisement; otherwise a solicitation.
	NA     bool
	Target netip.Addr
	// LinkAddr is the source (NS) or target (NA) link-layer address
	// option; nil when absent.
	LinkAddr net.HardwareAddr
	// NA flags.
	Router, Solicited, Override bool
}

var errNotNDP = errors.New("not a valid neighbour solicitation or advertisement")

// parseNDP decodes an untagged Ethernet frame holding an IPv6 neighbour
// solicitation or advertisement and checks it as RFC 4861 7.1 asks (hop
// limit 255, checksum, code 0, target not multicast, DAD and multicast
// rules). Packets with IPv6 extension headers are refused: neighbour
// discovery does not use them.
func parseNDP(frame []byte) (ndpMsg, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil {
		return ndpMsg{}, fmt.Errorf("ethernet header: %w", err)
	}
	if f.VLAN != nil || f.ServiceVLAN != nil {
		return ndpMsg{}, errVLANTagged
	}
	if f.EtherType != ethernet.EtherTypeIPv6 {
		return ndpMsg{}, fmt.Errorf("ethertype %#04x: %w", uint16(f.EtherType), errNotNDP)
	}
	p := f.Payload
	if len(p) < ipv6HeaderLen {
		return ndpMsg{}, fmt.Errorf("ipv6 header: %d bytes: %w", len(p), errNotNDP)
	}
	if p[0]>>4 != 6 {
		return ndpMsg{}, fmt.Errorf("ip version %d: %w", p[0]>>4, errNotNDP)
	}
	plen := int(binary.BigEndian.Uint16(p[4:6]))
	if p[6] != protoICMPv6 {
		return ndpMsg{}, fmt.Errorf("next header %d: %w", p[6], errNotNDP)
	}
	if p[7] != ndpHopLimit {
		return ndpMsg{}, fmt.Errorf("hop limit %d: %w", p[7], errNotNDP)
	}
	if ipv6HeaderLen+plen > len(p) {
		return ndpMsg{}, fmt.Errorf("payload length %d beyond the %d bytes received: %w", plen, len(p)-ipv6HeaderLen, errNotNDP)
	}
	src := netip.AddrFrom16([16]byte(p[8:24]))
	dst := netip.AddrFrom16([16]byte(p[24:40]))
	body := p[ipv6HeaderLen : ipv6HeaderLen+plen]
	if len(body) < 4 || (body[0] != icmpTypeNS && body[0] != icmpTypeNA) {
		return ndpMsg{}, fmt.Errorf("icmpv6 type: %w", errNotNDP)
	}
	if body[1] != 0 {
		return ndpMsg{}, fmt.Errorf("icmpv6 code %d: %w", body[1], errNotNDP)
	}
	if icmpv6Checksum(src, dst, body) != 0 {
		return ndpMsg{}, fmt.Errorf("icmpv6 checksum: %w", errNotNDP)
	}
	if src.IsMulticast() {
		return ndpMsg{}, fmt.Errorf("multicast source %s: %w", src, errNotNDP)
	}
	msg, err := ndp.ParseMessage(body)
	if err != nil {
		return ndpMsg{}, fmt.Errorf("%w: %w", errNotNDP, err)
	}
	m := ndpMsg{EthDst: f.Destination, EthSrc: f.Source, Src: src, Dst: dst}
	var opts []ndp.Option
	var want ndp.Direction
	switch msg := msg.(type) {
	case *ndp.NeighborSolicitation:
		m.Target, opts, want = msg.TargetAddress, msg.Options, ndp.Source
	case *ndp.NeighborAdvertisement:
		m.NA, m.Target, opts, want = true, msg.TargetAddress, msg.Options, ndp.Target
		m.Router, m.Solicited, m.Override = msg.Router, msg.Solicited, msg.Override
	default:
		return ndpMsg{}, fmt.Errorf("icmpv6 message %T: %w", msg, errNotNDP)
	}
	for _, o := range opts {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == want && len(lla.Addr) == 6 {
			m.LinkAddr = lla.Addr
		}
	}
	switch {
	case m.Target.IsMulticast():
		return ndpMsg{}, fmt.Errorf("multicast target %s: %w", m.Target, errNotNDP)
	case !m.NA && src.IsUnspecified() && (!isSolicitedNode(dst) || m.LinkAddr != nil):
		return ndpMsg{}, fmt.Errorf("DAD solicitation to %s with link-layer option %v: %w", dst, m.LinkAddr, errNotNDP)
	case m.NA && dst.IsMulticast() && m.Solicited:
		return ndpMsg{}, fmt.Errorf("solicited advertisement to multicast %s: %w", dst, errNotNDP)
	}
	return m, nil
}

// isSolicitedNode reports whether a is in ff02::1:ff00:0/104.
func isSolicitedNode(a netip.Addr) bool {
	b := a.As16()
	return a.Is6() && b[0] == 0xff && b[1] == 0x02 && b[11] == 0x01 && b[12] == 0xff &&
		binary.BigEndian.Uint64(b[2:10]) == 0 && b[10] == 0
}

// icmpv6Checksum returns the Internet checksum of body with the IPv6
// pseudo-header of src and dst. It is 0 for a received message whose
// checksum field is right; for one with a zero checksum field it is the
// value to put there.
func icmpv6Checksum(src, dst netip.Addr, body []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[0:4], uint32(len(body)))
	tail[7] = protoICMPv6
	add(tail[:])
	add(body)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// multicastMAC is the Ethernet address of an IPv6 multicast group
// (RFC 2464 7: 33:33 and the group's last 32 bits).
func multicastMAC(group netip.Addr) net.HardwareAddr {
	b := group.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// solicitedNode returns the solicited-node multicast group of ip.
func solicitedNode(ip netip.Addr) netip.Addr {
	g, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		// Only IPv6 addresses are ever passed; keep a sane value anyway.
		return netip.IPv6Unspecified()
	}
	return g
}

// marshalNDP builds the Ethernet frame for m (EthSrc is the sending
// interface's MAC; LinkAddr, when set, becomes the source or target
// link-layer address option).
func marshalNDP(m ndpMsg) ([]byte, error) {
	var msg ndp.Message
	var opts []ndp.Option
	if m.NA {
		if m.LinkAddr != nil {
			opts = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: m.LinkAddr}}
		}
		msg = &ndp.NeighborAdvertisement{
			Router: m.Router, Solicited: m.Solicited, Override: m.Override,
			TargetAddress: m.Target, Options: opts,
		}
	} else {
		if m.LinkAddr != nil {
			opts = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: m.LinkAddr}}
		}
		msg = &ndp.NeighborSolicitation{TargetAddress: m.Target, Options: opts}
	}
	body, err := ndp.MarshalMessageChecksum(msg, m.Src, m.Dst)
	if err != nil {
		return nil, fmt.Errorf("ndp message for %s: %w", m.Target, err)
	}
	p := make([]byte, ipv6HeaderLen+len(body))
	p[0] = 6 << 4
	binary.BigEndian.PutUint16(p[4:6], uint16(len(body)))
	p[6] = protoICMPv6
	p[7] = ndpHopLimit
	s, d := m.Src.As16(), m.Dst.As16()
	copy(p[8:24], s[:])
	copy(p[24:40], d[:])
	copy(p[ipv6HeaderLen:], body)
	f := ethernet.Frame{Destination: m.EthDst, Source: m.EthSrc, EtherType: ethernet.EtherTypeIPv6, Payload: p}
	return f.MarshalBinary()
}

// ndpProbe is a duplicate address detection probe for ip (RFC 4862 5.4.2):
// a solicitation from :: to ip's solicited-node group without a
// link-layer address option.
func ndpProbe(mac net.HardwareAddr, ip netip.Addr) ndpMsg {
	g := solicitedNode(ip)
	return ndpMsg{
		EthDst: multicastMAC(g), EthSrc: mac,
		Src: netip.IPv6Unspecified(), Dst: g,
		Target: ip,
	}
}

// ndpUnsolicited is an unsolicited advertisement of ip to all nodes with
// the Override flag (RFC 4861 7.2.6), which replaces the link-layer
// address of every existing neighbour entry for ip. The source is ip
// itself, as Linux does for the addresses it owns.
func ndpUnsolicited(mac net.HardwareAddr, ip netip.Addr) ndpMsg {
	return ndpMsg{
		EthDst: multicastMAC(allNodes), EthSrc: mac,
		Src: ip, Dst: allNodes,
		NA: true, Target: ip, LinkAddr: mac, Override: true,
	}
}

// ndpDecision is what to do about one received NDP message.
type ndpDecision struct {
	// Request: a solicitation for an IP claimed on the interface.
	Request bool
	// Reply, when non-nil, is the advertisement to send.
	Reply *ndpMsg
	// Conflict, when valid, is a claimed IP that another host claims for
	// ConflictMAC.
	Conflict    netip.Addr
	ConflictMAC net.HardwareAddr
}

// decideNDP decides what to do about m, received on an interface whose
// state is v; friendly as for decideARP. It is pure.
func decideNDP(m ndpMsg, v *ifView, friendly func(net.HardwareAddr) bool) ndpDecision {
	var d ndpDecision
	if v == nil || macEqual(m.EthSrc, v.mac) || macEqual(m.LinkAddr, v.mac) {
		return d
	}
	// The MAC a neighbour cache would record from this message.
	claimed := m.LinkAddr
	if claimed == nil {
		claimed = m.EthSrc
	}
	if m.NA {
		// An advertisement for our IP: the answer to our DAD probe, or
		// another host announcing it.
		if ph, ok := v.ips[m.Target]; ok && ph != phaseConflict && !friendly(claimed) {
			d.Conflict, d.ConflictMAC = m.Target, claimed
		}
		return d
	}
	if ph, ok := v.ips[m.Src]; ok && ph != phaseConflict && !friendly(claimed) {
		// Someone sends solicitations from our IP.
		d.Conflict, d.ConflictMAC = m.Src, claimed
		return d
	}
	ph, ok := v.ips[m.Target]
	if !ok {
		return d
	}
	d.Request = true
	switch {
	case ph == phaseProbing && m.Src.IsUnspecified() && !friendly(m.EthSrc):
		// Another host runs DAD for the address we probe for.
		d.Conflict, d.ConflictMAC = m.Target, m.EthSrc
	case ph == phaseAnnounced && m.Src.IsUnspecified():
		// A DAD probe for our address: defend it the way RFC 4862 5.4.3
		// says the owner answers, to all nodes without Solicited.
		r := ndpUnsolicited(v.mac, m.Target)
		d.Reply = &r
	case ph == phaseAnnounced:
		dst := m.LinkAddr
		if dst == nil || isZeroOrGroupMAC(dst) {
			dst = m.EthSrc
		}
		d.Reply = &ndpMsg{
			EthDst: dst, EthSrc: v.mac,
			Src: m.Target, Dst: m.Src,
			NA: true, Target: m.Target, LinkAddr: v.mac,
			Solicited: true, Override: true,
		}
	}
	return d
}
