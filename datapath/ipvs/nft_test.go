package ipvs

import (
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/datapath"
)

func TestDesiredElements(t *testing.T) {
	local := datapath.ServiceKey{VIP: vip4, Port: 443, Protocol: datapath.TCP}
	dead := datapath.ServiceKey{VIP: vip4, Port: 8443, Protocol: datapath.TCP}
	deadCluster := datapath.ServiceKey{VIP: vip4, Port: 9000, Protocol: datapath.TCP}
	v6 := datapath.ServiceKey{VIP: vip6, Port: 80, Protocol: datapath.TCP}
	pod6 := netip.MustParseAddrPort("[2001:db8:2::11]:8080")
	st := datapath.State{Services: map[datapath.ServiceKey]datapath.VirtualService{
		tcp80:       {Masquerade: true, Backends: map[netip.AddrPort]datapath.Backend{podA: {Weight: 1}}},
		local:       {LocalOnly: true, Backends: map[netip.AddrPort]datapath.Backend{podB: {Weight: 1, Local: true}}},
		dead:        {LocalOnly: true, Backends: map[netip.AddrPort]datapath.Backend{podC: {Weight: 0, Terminating: true}}},
		deadCluster: {Masquerade: true},
		v6:          {Masquerade: true, Backends: map[netip.AddrPort]datapath.Backend{pod6: {Weight: 1}}},
	}}
	e := desiredElements(st)
	has := func(set string, key []byte) bool { return e[set][string(key)] }
	checks := []struct {
		name string
		ok   bool
	}{
		{"vip4 listed once", len(e["vips4"]) == 1 && has("vips4", vip4.AsSlice())},
		{"vip6 listed", len(e["vips6"]) == 1 && has("vips6", vip6.AsSlice())},
		{"cluster service masqueraded", has("masq4", keyBytes(tcp80)) && !has("accept4", keyBytes(tcp80))},
		{"local service accepted unmarked", has("accept4", keyBytes(local)) && !has("masq4", keyBytes(local))},
		{"local service without endpoint dropped", has("drop4", keyBytes(dead)) && !has("accept4", keyBytes(dead))},
		{"cluster service without endpoint in no set (refused)", !has("masq4", keyBytes(deadCluster)) && !has("accept4", keyBytes(deadCluster)) && !has("drop4", keyBytes(deadCluster))},
		{"v6 masqueraded", has("masq6", keyBytes(v6))},
		{"hairpin for every backend address", len(e["hairpin4"]) == 3 && has("hairpin4", hairpinKey(podC.Addr())) && has("hairpin6", hairpinKey(pod6.Addr()))},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: elements %v", c.name, e)
		}
	}
	if got := keyBytes(tcp80); len(got) != 12 || got[4] != 6 || got[8] != 0 || got[9] != 80 {
		t.Errorf("keyBytes(%s) = %x: want addr . proto padded . port padded", tcp80, got)
	}
	if len(keyBytes(v6)) != 24 {
		t.Errorf("v6 key length %d, want 24", len(keyBytes(v6)))
	}
}

// TestSkeletonDigest: the digest depends on the mark, so a table built
// with another mark is replaced, and is stable for the same one.
func TestSkeletonDigest(t *testing.T) {
	a, b, c := skeletonDigest(0x2000), skeletonDigest(0x2000), skeletonDigest(0x4000)
	if a != b || a == c || len(a) != 16 {
		t.Errorf("digests %s %s %s", a, b, c)
	}
}

// TestSourceRangeElements: a restricted service is in the restricted set
// and each allowed prefix becomes one interval from its first to its last
// address, behind the service key; an unrestricted one is in neither.
func TestSourceRangeElements(t *testing.T) {
	open := datapath.ServiceKey{VIP: vip4, Port: 81, Protocol: datapath.TCP}
	v6 := datapath.ServiceKey{VIP: vip6, Port: 80, Protocol: datapath.TCP}
	st := datapath.State{Services: map[datapath.ServiceKey]datapath.VirtualService{
		tcp80: {Masquerade: true, Sources: datapath.SourceRanges{Restricted: true, Allowed: []netip.Prefix{netip.MustParsePrefix("198.51.100.64/26")}}},
		open:  {Masquerade: true},
		v6:    {Masquerade: true, Sources: datapath.SourceRanges{Restricted: true}}, // nobody
	}}
	e := desiredElements(st)
	want := string(keyBytes(tcp80)) + string([]byte{198, 51, 100, 64}) + string(keyBytes(tcp80)) + string([]byte{198, 51, 100, 127})
	if len(e["sources4"]) != 1 || !e["sources4"][want] {
		t.Errorf("sources4 %x, want the one interval %x", sortedKeys(e["sources4"]), want)
	}
	if !e["restricted4"][string(keyBytes(tcp80))] || e["restricted4"][string(keyBytes(open))] || len(e["restricted4"]) != 1 {
		t.Errorf("restricted4 %x: want %s only", sortedKeys(e["restricted4"]), tcp80)
	}
	if !e["restricted6"][string(keyBytes(v6))] || len(e["sources6"]) != 0 {
		t.Errorf("a restriction without ranges must be restricted with no interval: %x %x", sortedKeys(e["restricted6"]), sortedKeys(e["sources6"]))
	}
	got := sourceRangeElement(v6, netip.MustParsePrefix("2001:db8:1::/127"))
	if n := len(keyBytes(v6)) + 16; len(got) != 2*n || got[n-1] != 0 || got[2*n-1] != 1 {
		t.Errorf("IPv6 interval %x: want key . 2001:db8:1:: then key . 2001:db8:1::1", got)
	}
}
