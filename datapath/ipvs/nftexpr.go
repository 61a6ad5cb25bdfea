package ipvs

import (
	"encoding/binary"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/datapath/internal/nftexpr"
)

// The builders both backends share live in datapath/internal/nftexpr.
var (
	reg          = nftexpr.Reg
	words        = nftexpr.Words
	fam          = nftexpr.Fam
	matchFamily  = nftexpr.MatchFamily
	matchL4Proto = nftexpr.MatchL4Proto
	loadAddr     = nftexpr.LoadAddr
	matchMark    = nftexpr.MatchMark
	setMark      = nftexpr.SetMark
	verdict      = nftexpr.Verdict
	gotoChain    = nftexpr.GotoChain
	cat          = nftexpr.Cat
	hairpinKey   = nftexpr.HairpinKey
)

// Builders for the few nf_tables expressions the table uses; each comment
// gives the nft syntax it stands for.

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

// @set lookup of the key in register r
func lookup(set string, r int) expr.Any {
	return &expr.Lookup{SourceRegister: reg(r), SetName: set}
}

// keyBytes encodes addr . inet_proto . inet_service as registers hold it.
func keyBytes(k datapath.ServiceKey) []byte {
	b := append([]byte(nil), k.VIP.AsSlice()...)
	b = append(b, k.Protocol.Number(), 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, k.Port)
	return append(b, 0, 0)
}
