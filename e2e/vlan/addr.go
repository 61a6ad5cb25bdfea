package vlan

import (
	"fmt"
	"net"
	"net/netip"
)

// Address plan. Only documentation ranges are used.
const (
	// LANv4 and LANv6 are the shared LAN: router .1 (::1), nodes .11 to
	// .100, clients .101 to .254. The IPv6 interface ID repeats the IPv4
	// octet's decimal digits (198.51.100.11 <-> 2001:db8:100::11).
	LANv4 = "198.51.100.0/24"
	LANv6 = "2001:db8:100::/64"

	// PodsV4 holds one /28 per node: node i (1-based) has 192.0.2.(16*i)/28,
	// so node1 to node7 can have pods. PodsV6 holds 2001:db8:200:<i>::/64
	// for node i.
	PodsV4 = "192.0.2.0/25"
	PodsV6 = "2001:db8:200::/48"

	// ClusterIPsV4 is left free for the test API server's Service
	// ClusterIPs (--service-cluster-ip-range).
	ClusterIPsV4 = "192.0.2.128/25"

	// VIPPoolV4 and VIPPoolV6 are for LoadBalancer IP pools. This package
	// does not configure them anywhere.
	VIPPoolV4 = "203.0.113.0/24"
	VIPPoolV6 = "2001:db8:300::/64"
)

// Host numbering on the LAN (last IPv4 octet).
const (
	routerOctet      = 1
	firstNodeOctet   = 11
	lastNodeOctet    = 100
	firstClientOctet = 101
	lastClientOctet  = 254

	// MaxNodes and MaxClients are how many of each the LAN has room for.
	MaxNodes   = lastNodeOctet - firstNodeOctet + 1
	MaxClients = lastClientOctet - firstClientOctet + 1

	// MaxPodNodes is how many nodes (node1 to node7) have a pod subnet.
	MaxPodNodes = 7
)

var (
	lanV4 = netip.MustParsePrefix(LANv4)
	lanV6 = netip.MustParsePrefix(LANv6)
)

// mirrorV6 returns the address in the /64 prefix whose last group spells the
// decimal number n (n=11 gives ...::11), which keeps IPv4 and IPv6 addresses
// of one host easy to match by eye.
func mirrorV6(prefix netip.Prefix, n int) netip.Addr {
	b := prefix.Addr().As16()
	v := 0
	for _, d := range fmt.Sprint(n) {
		v = v<<4 | int(d-'0')
	}
	b[14], b[15] = byte(v>>8), byte(v)
	return netip.AddrFrom16(b)
}

// lanAddrs returns the LAN addresses of the host with this last octet.
func lanAddrs(octet int) (v4, v6 netip.Prefix) {
	a := lanV4.Addr().As4()
	a[3] = byte(octet)
	return netip.PrefixFrom(netip.AddrFrom4(a), lanV4.Bits()),
		netip.PrefixFrom(mirrorV6(lanV6, octet), lanV6.Bits())
}

// lanMAC is a locally administered MAC ending in the host's LAN address
// (02:00:c6:33:64:0b is 198.51.100.11), so captures are easy to read.
func lanMAC(octet int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x00, 198, 51, 100, byte(octet)}
}

// podSubnets returns node i's pod subnets (i is 1-based).
func podSubnets(i int) (v4, v6 netip.Prefix, err error) {
	if i < 1 || i > MaxPodNodes {
		return netip.Prefix{}, netip.Prefix{}, fmt.Errorf("node%d has no pod subnet: only node1 to node%d have one", i, MaxPodNodes)
	}
	v4 = netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(16 * i)}), 28)
	b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x02, 0x00, byte(i >> 8), byte(i)}
	v6 = netip.PrefixFrom(netip.AddrFrom16(b), 64)
	return v4, v6, nil
}

// podMAC and podGatewayMAC are the MACs of a pod's eth0 and of its node-side
// veth; octet is the pod's last IPv4 octet.
func podMAC(octet byte) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x00, 192, 0, 2, octet}
}

func podGatewayMAC(octet byte) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x01, 192, 0, 2, octet}
}

// podGatewayV6 is the link-local address every node-side pod veth carries;
// pods route through it.
var podGatewayV6 = netip.MustParseAddr("fe80::1")
