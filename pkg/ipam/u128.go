package ipam

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
)

// u128 is an unsigned 128-bit integer, enough to count IPv6 addresses
// exactly (up to 2^128-1; the full IPv6 space saturates by one).
type u128 struct{ hi, lo uint64 }

func u128From64(v uint64) u128 { return u128{lo: v} }

// u128FromAddr returns a's numeric value (IPv4 as a 32-bit value).
func u128FromAddr(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (x u128) cmp(y u128) int {
	switch {
	case x.hi < y.hi:
		return -1
	case x.hi > y.hi:
		return 1
	case x.lo < y.lo:
		return -1
	case x.lo > y.lo:
		return 1
	}
	return 0
}

// addSat adds, saturating at 2^128-1.
func (x u128) addSat(y u128) u128 {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	hi, c2 := bits.Add64(x.hi, y.hi, c)
	if c2 != 0 {
		return u128{math.MaxUint64, math.MaxUint64}
	}
	return u128{hi, lo}
}

// subSat subtracts, saturating at 0.
func (x u128) subSat(y u128) u128 {
	if x.cmp(y) < 0 {
		return u128{}
	}
	lo, b := bits.Sub64(x.lo, y.lo, 0)
	hi, _ := bits.Sub64(x.hi, y.hi, b)
	return u128{hi, lo}
}

// sat64 converts to uint64, saturating at MaxUint64.
func (x u128) sat64() uint64 {
	if x.hi != 0 {
		return math.MaxUint64
	}
	return x.lo
}
