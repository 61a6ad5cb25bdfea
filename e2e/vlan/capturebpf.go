package vlan

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// neighborDiscoveryBPF keeps what NeighborDiscovery selects on the untagged
// LAN: ARP, and ICMPv6 neighbour solicitations and advertisements (next
// header ICMPv6 right after the IPv6 header, as neighbour discovery sends
// them).
var neighborDiscoveryBPF = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2}, // EtherType
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: EtherTypeARP, SkipTrue: 6},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: EtherTypeIPv6, SkipFalse: 6},
	bpf.LoadAbsolute{Off: 14 + 6, Size: 1}, // IPv6 next header
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58, SkipFalse: 4},
	bpf.LoadAbsolute{Off: 14 + 40, Size: 1}, // ICMPv6 type
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: ICMPv6NeighborSolicitation, SkipTrue: 1},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: ICMPv6NeighborAdvertisement, SkipFalse: 1},
	bpf.RetConstant{Val: 0xffff},
	bpf.RetConstant{Val: 0},
}

// attachBPF makes the kernel pass the socket only the frames prog keeps.
func attachBPF(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("assemble filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("attach filter: %w", err)
	}
	return nil
}
