// Package nftexpr builds the nf_tables expressions both IronLB datapath
// backends use: the nftables backend for its whole datapath, the IPVS
// backend for source NAT and for refusing non-service ports. Comments give
// the nft syntax an expression stands for.
package nftexpr

import (
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Reg is the nth 32-bit data register. A value of n bytes takes ceil(n/4)
// consecutive registers, and a concatenated set key is its fields laid out
// that way, each padded to 4 bytes.
func Reg(n int) uint32 { return uint32(unix.NFT_REG32_00 + n) }

// Words is how many registers an address takes.
func Words(v6 bool) int {
	if v6 {
		return 4
	}
	return 1
}

// Fam is the suffix of per-family object names.
func Fam(v6 bool) string {
	if v6 {
		return "6"
	}
	return "4"
}

// MatchFamily is meta nfproto ipv4|ipv6.
func MatchFamily(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: Reg(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: Reg(0), Data: []byte{p}},
	}
}

// MatchL4Proto is meta l4proto N.
func MatchL4Proto(p uint8) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: Reg(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: Reg(0), Data: []byte{p}},
	}
}

// LoadAddr loads ip/ip6 saddr|daddr into register r.
func LoadAddr(v6, dst bool, r int) expr.Any {
	off, n := uint32(12), uint32(4)
	if v6 {
		off, n = 8, 16
	}
	if dst {
		off += n
	}
	return &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: Reg(r), Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}
}

// MatchMark is meta mark & m != 0.
func MatchMark(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: Reg(0)},
		&expr.Bitwise{SourceRegister: Reg(0), DestRegister: Reg(0), Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(m), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: Reg(0), Data: make([]byte, 4)},
	}
}

// SetMark is meta mark set meta mark | m (set) or meta mark & ~m (!set).
func SetMark(m uint32, set bool) []expr.Any {
	mask, xor := ^m, m
	if !set {
		xor = 0
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: Reg(0)},
		&expr.Bitwise{SourceRegister: Reg(0), DestRegister: Reg(0), Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(xor)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: Reg(0)},
	}
}

// Verdict is a plain verdict (accept, drop, return, ...).
func Verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

// GotoChain is goto name.
func GotoChain(name string) expr.Any { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name} }

// Cat joins expression lists into one rule.
func Cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// HairpinKey is addr . addr: a packet from an endpoint to itself.
func HairpinKey(a netip.Addr) []byte {
	return append(a.AsSlice(), a.AsSlice()...)
}
