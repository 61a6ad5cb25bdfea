package nftables

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/datapath/internal/nftexpr"
)

// The builders both backends share live in datapath/internal/nftexpr.
var (
	reg        = nftexpr.Reg
	words      = nftexpr.Words
	fam        = nftexpr.Fam
	hairpinKey = nftexpr.HairpinKey
)

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

// chainName is the regular chain of one virtual service, readable in
// `nft list`: svc4-203.0.113.10-tcp-80, svc6-2001.db8..10-udp-53 (":" is
// not allowed in names; the "4"/"6" keeps families apart).
func chainName(k datapath.ServiceKey) string {
	a := strings.ReplaceAll(k.VIP.String(), ":", ".")
	return fmt.Sprintf("svc%s-%s-%s-%d", fam(k.VIP.Is6()), a, strings.ToLower(string(k.Protocol)), k.Port)
}
