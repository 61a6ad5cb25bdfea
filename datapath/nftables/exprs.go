package nftables

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath/internal/nftexpr"
)

// The builders both backends share live in datapath/internal/nftexpr.
var (
	matchFamily  = nftexpr.MatchFamily
	matchL4Proto = nftexpr.MatchL4Proto
	loadAddr     = nftexpr.LoadAddr
	matchMark    = nftexpr.MatchMark
	setMark      = nftexpr.SetMark
	verdict      = nftexpr.Verdict
	gotoChain    = nftexpr.GotoChain
	cat          = nftexpr.Cat
)

// Small builders for the expressions the rules are made of. Each mirrors a
// fragment of nft syntax, named in its comment.

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
