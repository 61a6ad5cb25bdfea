package soak

import (
	"net/netip"
	"slices"
	"testing"
)

func TestFreeBlocksAvoidHostsNetworkAndBroadcast(t *testing.T) {
	lan := netip.MustParsePrefix("198.51.100.0/24")
	var hosts []netip.Addr
	for _, a := range []string{"198.51.100.1", "198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.101"} {
		hosts = append(hosts, netip.MustParseAddr(a))
	}
	var want []netip.Prefix
	for _, b := range []int{16, 32, 48, 64, 80, 112, 128, 144, 160, 176, 192, 208, 224} {
		want = append(want, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(b)}), 28))
	}
	if got := freeBlocks(lan, hosts); !slices.Equal(got, want) {
		t.Errorf("freeBlocks = %v\nwant %v", got, want)
	}
}
