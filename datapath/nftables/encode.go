package nftables

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// Registers. nf_tables has sixteen 32-bit data registers; a value of n
// bytes takes ceil(n/4) consecutive ones, and a concatenated set key is
// its fields laid out that way, each padded to 4 bytes.
func reg(n int) uint32 { return uint32(unix.NFT_REG32_00 + n) }

// words is how many 32-bit registers an address takes.
func words(v6 bool) int {
	if v6 {
		return 4
	}
	return 1
}

// family helpers: "4" or "6" in object names.
func fam(v6 bool) string {
	if v6 {
		return "6"
	}
	return "4"
}

// keyAddrProtoPort encodes addr . inet_proto . inet_service as nf_tables
// lays it out in registers.
func keyAddrProtoPort(a netip.Addr, proto uint8, port uint16) []byte {
	b := append([]byte(nil), a.AsSlice()...)
	b = append(b, proto, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, port)
	return append(b, 0, 0)
}

func serviceKeyBytes(k datapath.ServiceKey) []byte {
	return keyAddrProtoPort(k.VIP, k.Protocol.Number(), k.Port)
}

// addrPortData encodes ipv4_addr/ipv6_addr . inet_service (map data).
func addrPortData(ap netip.AddrPort) []byte {
	b := append([]byte(nil), ap.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, ap.Port())
	return append(b, 0, 0)
}

// hairpinKey is addr . addr.
func hairpinKey(a netip.Addr) []byte {
	return append(a.AsSlice(), a.AsSlice()...)
}

// chainName is the regular chain of one virtual service, readable in
// `nft list`: svc4-203.0.113.10-tcp-80, svc6-2001.db8..10-udp-53 (":" is
// not allowed in names; the "4"/"6" keeps families apart).
func chainName(k datapath.ServiceKey) string {
	a := strings.ReplaceAll(k.VIP.String(), ":", ".")
	return fmt.Sprintf("svc%s-%s-%s-%d", fam(k.VIP.Is6()), a, strings.ToLower(string(k.Protocol)), k.Port)
}
