package election

import "net/netip"

// FNV-1a 64 constants.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashString is FNV-1a 64 of s followed by mix, which fixes FNV's weak
// avalanche in the high bits.
func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

// hashAddr hashes the 16-byte form plus the family, so that 192.0.2.1 and
// ::ffff:192.0.2.1 (distinct map keys) also hash differently.
func hashAddr(a netip.Addr) uint64 {
	h := uint64(fnvOffset)
	if a.Is4() {
		h ^= 4
	} else {
		h ^= 6
	}
	h *= fnvPrime
	b := a.As16()
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return mix(h)
}

// mix is the SplitMix64 finalizer: a bijection on uint64 whose every output
// bit depends on every input bit. Scores are mix(nodeHash ^ ipHash), so one
// hash per node and one per IP suffice for all pairs.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
