package layer2

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
)

// sock is one AF_PACKET socket of an interface, for ARP or for IPv6
// neighbour discovery, with the goroutine that reads it.
type sock struct {
	proto   proto
	conn    *packet.Conn
	closing atomic.Bool // the loop is done with it: the reader closes it and returns
}

// readBuffer fits any neighbour discovery message; longer frames are cut
// and then fail to parse, which is what they deserve.
const readBuffer = 4096

// Offsets in an untagged Ethernet frame carrying IPv6.
const (
	offNextHeader = 14 + 6
	offHopLimit   = 14 + 7
	offICMPType   = 14 + ipv6HeaderLen
)

// filterFor returns the socket filter of a protocol on the interface with
// this index. Both drop frames the kernel hands to the socket on behalf of
// another device (a VLAN, macvlan or bridge built on this interface
// delivers its traffic to sockets bound to the lower device too, with the
// VLAN tag already removed: skb->dev then is the upper device) and frames
// that still carry a VLAN tag. The NDP filter keeps only ICMPv6 neighbour
// solicitations and advertisements with hop limit 255, so the reader is not
// woken for the rest of the interface's IPv6 traffic.
func filterFor(p proto, ifindex int) ([]bpf.RawInstruction, error) {
	const accept, drop = 0xffff, 0
	var prog []bpf.Instruction
	switch p {
	case protoARP:
		prog = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},                       // 0
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ifindex), SkipFalse: 3}, // 1 -> 5
			bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},                       // 2
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 1},               // 3 -> 5
			bpf.RetConstant{Val: accept},                                        // 4
			bpf.RetConstant{Val: drop},                                          // 5
		}
	case protoNDP:
		prog = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},                       // 0
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ifindex), SkipFalse: 9}, // 1 -> 11
			bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},                       // 2
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 7},               // 3 -> 11
			bpf.LoadAbsolute{Off: offNextHeader, Size: 1},                       // 4
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoICMPv6, SkipFalse: 5},     // 5 -> 11
			bpf.LoadAbsolute{Off: offHopLimit, Size: 1},                         // 6
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: ndpHopLimit, SkipFalse: 3},     // 7 -> 11
			bpf.LoadAbsolute{Off: offICMPType, Size: 1},                         // 8
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: icmpTypeNS, SkipTrue: 2},       // 9 -> 12
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: icmpTypeNA, SkipTrue: 1},       // 10 -> 12
			bpf.RetConstant{Val: drop},                                          // 11
			bpf.RetConstant{Val: accept},                                        // 12
		}
	default:
		return nil, fmt.Errorf("unknown protocol %d", p)
	}
	return bpf.Assemble(prog)
}

// openSock opens the socket of protocol p on ifi. It must run where ifi
// lives: the socket belongs to the network namespace of the calling thread.
func openSock(ifi *net.Interface, p proto) (*sock, error) {
	filter, err := filterFor(p, ifi.Index)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %s filter: %w", ifi.Name, p, err)
	}
	et := ethernet.EtherTypeARP
	if p == protoNDP {
		et = ethernet.EtherTypeIPv6
	}
	// The filter is attached before bind, so nothing unfiltered is queued.
	c, err := packet.Listen(ifi, packet.Raw, int(et), &packet.Config{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("interface %s: open %s socket: %w", ifi.Name, p, err)
	}
	return &sock{proto: p, conn: c}, nil
}

// send writes one frame to dst.
func (s *sock) send(frame []byte, dst net.HardwareAddr) error {
	_, err := s.conn.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	return err
}

// stop asks the reader to close the socket and return, without waiting:
// closing an AF_PACKET socket waits for an RCU grace period
// (synchronize_net), 8-25ms measured here, which the loop must not spend.
// The socket stops being answered from at once anyway, since the loop takes
// the interface's view away first.
func (s *sock) stop() {
	s.closing.Store(true)
	// A deadline in the past wakes a blocked read.
	_ = s.conn.SetReadDeadline(time.Unix(1, 0))
}
