package ipvs

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// Builders for the few nf_tables expressions the table uses; each comment
// gives the nft syntax it stands for.

// reg is the nth 32-bit data register. A value of n bytes takes ceil(n/4)
// consecutive registers, and a concatenated set key is its fields laid out
// that way, each padded to 4 bytes.
func reg(n int) uint32 { return uint32(unix.NFT_REG32_00 + n) }

// words is how many registers an address takes.
func words(v6 bool) int {
	if v6 {
		return 4
	}
	return 1
}

// fam is the suffix of per-family object names.
func fam(v6 bool) string {
	if v6 {
		return "6"
	}
	return "4"
}

// meta nfproto ipv4|ipv6
func matchFamily(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg(0), Data: []byte{p}},
	}
}

// meta l4proto N
func matchL4Proto(p uint8) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg(0), Data: []byte{p}},
	}
}

// ip/ip6 saddr|daddr into register r.
func loadAddr(v6, dst bool, r int) expr.Any {
	off, n := uint32(12), uint32(4)
	if v6 {
		off, n = 8, 16
	}
	if dst {
		off += n
	}
	return &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: reg(r), Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}
}

// daddr . meta l4proto . th dport from register 0 on (keyBytes' layout).
func loadServiceKey(v6 bool) []expr.Any {
	w := words(v6)
	return []expr.Any{
		loadAddr(v6, true, 0),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg(w)},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: reg(w + 1), Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// ct state established,related
func matchEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: reg(0)},
		&expr.Bitwise{SourceRegister: reg(0), DestRegister: reg(0), Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg(0), Data: make([]byte, 4)},
	}
}

// meta mark & m != 0
func matchMark(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg(0)},
		&expr.Bitwise{SourceRegister: reg(0), DestRegister: reg(0), Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(m), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg(0), Data: make([]byte, 4)},
	}
}

// meta mark set meta mark | m (set) or meta mark & ~m (!set)
func setMark(m uint32, set bool) []expr.Any {
	mask, xor := ^m, m
	if !set {
		xor = 0
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg(0)},
		&expr.Bitwise{SourceRegister: reg(0), DestRegister: reg(0), Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(xor)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg(0)},
	}
}

// @set lookup of the key in register r
func lookup(set string, r int) expr.Any {
	return &expr.Lookup{SourceRegister: reg(r), SetName: set}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func gotoChain(name string) expr.Any { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name} }

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// keyBytes encodes addr . inet_proto . inet_service as registers hold it.
func keyBytes(k datapath.ServiceKey) []byte {
	b := append([]byte(nil), k.VIP.AsSlice()...)
	b = append(b, k.Protocol.Number(), 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, k.Port)
	return append(b, 0, 0)
}

// hairpinKey is addr . addr: a packet from an endpoint to itself.
func hairpinKey(a netip.Addr) []byte {
	return append(a.AsSlice(), a.AsSlice()...)
}
