package layer2

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// arpMsg is an Ethernet/IPv4 ARP packet, with the Ethernet addresses of the
// frame that carried it.
type arpMsg struct {
	EthDst, EthSrc net.HardwareAddr
	Op             arp.Operation
	SenderMAC      net.HardwareAddr
	SenderIP       netip.Addr
	TargetMAC      net.HardwareAddr
	TargetIP       netip.Addr
}

var (
	errNotARP     = errors.New("not an Ethernet/IPv4 ARP request or reply")
	errVLANTagged = errors.New("frame carries a VLAN tag")
)

// parseARP decodes an untagged Ethernet frame holding an Ethernet/IPv4 ARP
// request or reply; anything else is an error.
func parseARP(frame []byte) (arpMsg, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(frame); err != nil {
		return arpMsg{}, fmt.Errorf("ethernet header: %w", err)
	}
	if f.VLAN != nil || f.ServiceVLAN != nil {
		return arpMsg{}, errVLANTagged
	}
	if f.EtherType != ethernet.EtherTypeARP {
		return arpMsg{}, fmt.Errorf("ethertype %#04x: %w", uint16(f.EtherType), errNotARP)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		return arpMsg{}, fmt.Errorf("arp: %w", err)
	}
	if p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) ||
		p.HardwareAddrLength != 6 || p.IPLength != 4 {
		return arpMsg{}, fmt.Errorf("hardware type %d, protocol %#04x, lengths %d/%d: %w",
			p.HardwareType, p.ProtocolType, p.HardwareAddrLength, p.IPLength, errNotARP)
	}
	if p.Operation != arp.OperationRequest && p.Operation != arp.OperationReply {
		return arpMsg{}, fmt.Errorf("operation %d: %w", p.Operation, errNotARP)
	}
	return arpMsg{
		EthDst: f.Destination, EthSrc: f.Source,
		Op:        p.Operation,
		SenderMAC: p.SenderHardwareAddr, SenderIP: p.SenderIP,
		TargetMAC: p.TargetHardwareAddr, TargetIP: p.TargetIP,
	}, nil
}

// marshalARP builds the Ethernet frame for m (EthSrc is the sending
// interface's MAC).
func marshalARP(m arpMsg) ([]byte, error) {
	p, err := arp.NewPacket(m.Op, m.SenderMAC, m.SenderIP, m.TargetMAC, m.TargetIP)
	if err != nil {
		return nil, fmt.Errorf("arp packet %s -> %s: %w", m.SenderIP, m.TargetIP, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("arp packet %s -> %s: %w", m.SenderIP, m.TargetIP, err)
	}
	f := ethernet.Frame{Destination: m.EthDst, Source: m.EthSrc, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// arpProbe is an RFC 5227 probe for ip: a broadcast request from sender
// 0.0.0.0, so that nobody's cache learns anything from it.
func arpProbe(mac net.HardwareAddr, ip netip.Addr) arpMsg {
	return arpMsg{
		EthDst: ethernet.Broadcast, EthSrc: mac,
		Op:        arp.OperationRequest,
		SenderMAC: mac, SenderIP: netip.IPv4Unspecified(),
		TargetMAC: zeroMAC, TargetIP: ip,
	}
}

// arpGratuitous is one gratuitous ARP round: a broadcast request and a
// broadcast reply, both with sender and target IP set to ip and both
// hardware addresses set to mac. Some devices only learn from one of the
// two forms. The target hardware address is mac too (RFC 2002, 4.6):
// Linux treats a reply as gratuitous, and so overrides an entry younger
// than its locktime, only when the target hardware address equals the
// sender's.
func arpGratuitous(mac net.HardwareAddr, ip netip.Addr) [2]arpMsg {
	m := arpMsg{
		EthDst: ethernet.Broadcast, EthSrc: mac,
		Op:        arp.OperationRequest,
		SenderMAC: mac, SenderIP: ip,
		TargetMAC: mac, TargetIP: ip,
	}
	r := m
	r.Op = arp.OperationReply
	return [2]arpMsg{m, r}
}

// arpDecision is what to do about one received ARP packet.
type arpDecision struct {
	// Request: the packet asks for an IP claimed on the interface.
	Request bool
	// Reply, when non-nil, is the reply to send.
	Reply *arpMsg
	// Conflict, when valid, is a claimed IP that another host claims for
	// ConflictMAC.
	Conflict    netip.Addr
	ConflictMAC net.HardwareAddr
}

// decideARP decides what to do about m, received on an interface whose
// state is v. friendly reports whether a MAC belongs to another speaker or
// to this node. It is pure: no I/O, no clock.
func decideARP(m arpMsg, v *ifView, friendly func(net.HardwareAddr) bool) arpDecision {
	var d arpDecision
	if v == nil || macEqual(m.SenderMAC, v.mac) || macEqual(m.EthSrc, v.mac) {
		return d // our own frame, seen again through a loop or a second socket
	}
	if ph, ok := v.ips[m.SenderIP]; ok && ph != phaseConflict && !friendly(m.SenderMAC) {
		// Someone uses our IP as their own: a reply to our probe, a
		// gratuitous ARP, or a request sent from it.
		d.Conflict, d.ConflictMAC = m.SenderIP, m.SenderMAC
		return d
	}
	if m.Op != arp.OperationRequest {
		return d
	}
	ph, ok := v.ips[m.TargetIP]
	if !ok {
		return d
	}
	d.Request = true
	switch {
	case ph == phaseProbing && m.SenderIP.IsUnspecified() && !friendly(m.SenderMAC):
		// Another host probes for the address we are probing for
		// (RFC 5227 2.1.1): both must back off.
		d.Conflict, d.ConflictMAC = m.TargetIP, m.SenderMAC
	case ph == phaseAnnounced && m.SenderIP == m.TargetIP:
		// Someone else's gratuitous ARP for our IP from a friendly MAC
		// (a hand-over in progress): not a question to answer.
	case ph == phaseAnnounced:
		// Answer like the Linux kernel: to the asker's hardware address;
		// a probe (sender 0.0.0.0) gets a reply whose target IP is
		// 0.0.0.0, which tells the prober the address is taken.
		dst := m.SenderMAC
		if isZeroOrGroupMAC(dst) {
			dst = m.EthSrc
		}
		d.Reply = &arpMsg{
			EthDst: dst, EthSrc: v.mac,
			Op:        arp.OperationReply,
			SenderMAC: v.mac, SenderIP: m.TargetIP,
			TargetMAC: m.SenderMAC, TargetIP: m.SenderIP,
		}
	}
	return d
}

// isZeroOrGroupMAC reports an all-zero address or a multicast/broadcast
// one, neither of which may be the destination of a reply.
func isZeroOrGroupMAC(mac net.HardwareAddr) bool {
	if len(mac) == 0 || mac[0]&1 == 1 {
		return true
	}
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return true
}
