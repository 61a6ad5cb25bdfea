package nftables

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Small builders for the expressions the rules are made of. Each mirrors a
// fragment of nft syntax, named in its comment.

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

// ip/ip6 saddr or daddr into register r.
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

// th sport/dport into register r.
func loadPort(dst bool, r int) expr.Any {
	off := uint32(0)
	if dst {
		off = 2
	}
	return &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: reg(r), Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}
}

// loadServiceKey loads daddr . l4proto . dport from register 0 on (the
// layout of keyAddrProtoPort) and returns the registers used.
func loadServiceKey(v6 bool) []expr.Any {
	w := words(v6)
	return []expr.Any{
		loadAddr(v6, true, 0),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg(w)},
		loadPort(true, w+1),
	}
}

// ct status dnat
func matchCtDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: reg(0)},
		&expr.Bitwise{SourceRegister: reg(0), DestRegister: reg(0), Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(0x20 /* IPS_DST_NAT */), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg(0), Data: make([]byte, 4)},
	}
}

// ct state established,related
func matchCtEstablishedRelated() []expr.Any {
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

// meta mark set meta mark | m (set=true) or meta mark & ~m (set=false)
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

// lookup @set, and vmap @set.
func lookup(set string, sreg int) expr.Any {
	return &expr.Lookup{SourceRegister: reg(sreg), SetName: set}
}

func lookupVerdict(set string, sreg int) expr.Any {
	return &expr.Lookup{SourceRegister: reg(sreg), SetName: set, DestRegister: unix.NFT_REG_VERDICT, IsDestRegSet: true}
}

// immediate address . port into registers r (address) and r+words (port).
func loadAddrPort(ap netip.AddrPort, r int) []expr.Any {
	port := binary.BigEndian.AppendUint16(nil, ap.Port())
	return []expr.Any{
		&expr.Immediate{Register: reg(r), Data: ap.Addr().AsSlice()},
		&expr.Immediate{Register: reg(r + words(ap.Addr().Is6())), Data: port},
	}
}

// dnat ip|ip6 to <addr in r>:<port in r+words>
func dnat(v6 bool, r int) expr.Any {
	f := uint32(unix.NFPROTO_IPV4)
	if v6 {
		f = unix.NFPROTO_IPV6
	}
	return &expr.NAT{Type: expr.NATTypeDestNAT, Family: f, RegAddrMin: reg(r), RegProtoMin: reg(r + words(v6)), Specified: true}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func gotoChain(name string) expr.Any { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name} }

// cat joins expression lists.
func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
