package ipam

import (
	"math"
	"slices"
	"testing"
)

func TestPoolTotals(t *testing.T) {
	tests := []struct {
		pool Pool
		want map[Family]uint64
	}{
		{pl("p", "192.0.2.0/24"), map[Family]uint64{IPv4: 256}},
		{avoid(pl("p", "192.0.2.0/24")), map[Family]uint64{IPv4: 254}},
		{avoid(pl("p", "192.0.2.0/23")), map[Family]uint64{IPv4: 508}},
		{avoid(pl("p", "192.0.2.255-192.0.3.0")), map[Family]uint64{IPv4: 0}},
		{avoid(pl("p", "192.0.2.254-192.0.3.1")), map[Family]uint64{IPv4: 2}},
		{avoid(pl("p", "0.0.0.0/0")), map[Family]uint64{IPv4: 1<<32 - 2<<24}},
		// IPv6: the subnet-router anycast address of each prefix entry.
		{avoid(pl("p", "2001:db8::/120")), map[Family]uint64{IPv6: 255}},
		{avoid(pl("p", "2001:db8::-2001:db8::ff")), map[Family]uint64{IPv6: 255}}, // one prefix, written first-last
		{avoid(pl("p", "2001:db8::-2001:db8::fe")), map[Family]uint64{IPv6: 255}}, // no prefix: nothing excluded
		{avoid(pl("p", "2001:db8::/120", "2001:db8::100/120")), map[Family]uint64{IPv6: 510}},
		{avoid(pl("p", "2001:db8::/120", "2001:db8::/121")), map[Family]uint64{IPv6: 255}},
		{avoid(pl("p", "2001:db8::/127")), map[Family]uint64{IPv6: 2}},
		{avoid(pl("p", "2001:db8::/128")), map[Family]uint64{IPv6: 1}},
		{pl("p", "2001:db8::/120"), map[Family]uint64{IPv6: 256}},
		// Overlapping and adjacent ranges are merged, not double counted.
		{pl("p", "192.0.2.0/25", "192.0.2.100-192.0.2.130", "192.0.2.131-192.0.2.131"), map[Family]uint64{IPv4: 132}},
		{pl("p", "192.0.2.0/24", "2001:db8::/64"), map[Family]uint64{IPv4: 256, IPv6: math.MaxUint64}},
		{pl("p", "2001:db8::/65"), map[Family]uint64{IPv6: 1 << 63}},
		{pl("p", "2000::/3"), map[Family]uint64{IPv6: math.MaxUint64}},
	}
	for _, tt := range tests {
		a := New()
		a.SetPools([]Pool{tt.pool})
		st := a.Stats("p")
		if len(st) != len(tt.want) {
			t.Errorf("%v: stats %v, want totals %v", tt.pool.Ranges, st, tt.want)
		}
		for f, total := range tt.want {
			if st[f].Total != total || st[f].Available != total || st[f].Assigned != 0 {
				t.Errorf("%v avoid=%v: %s stats %+v, want total %d", tt.pool.Ranges, tt.pool.AvoidBuggyIPs, f, st[f], total)
			}
		}
	}
}

func TestSubnetRouterAnycast(t *testing.T) {
	for _, tt := range []struct {
		ranges []string
		want   []string
	}{
		{[]string{"2001:db8:300::/120"}, []string{"2001:db8:300::"}},
		{[]string{"2001:db8:300::100/120"}, []string{"2001:db8:300::100"}},
		{[]string{"2001:db8:300::-2001:db8:300::ff"}, []string{"2001:db8:300::"}},     // a prefix, written first-last
		{[]string{"2001:db8:300::-2001:db8:300::fe"}, nil},                            // not a prefix
		{[]string{"2001:db8:300::10-2001:db8:300::1f"}, []string{"2001:db8:300::10"}}, // a /124
		{[]string{"2001:db8:300::/126"}, []string{"2001:db8:300::"}},
		{[]string{"2001:db8:300::/127", "2001:db8:300::2/128"}, nil}, // /127 and /128 name their addresses
		{[]string{"192.0.2.0/24"}, nil},                              // IPv4: .0 and .255 instead
		{[]string{"2001:db8:300::100/120", "2001:db8:300::/120", "2001:db8:300::/121"}, []string{"2001:db8:300::", "2001:db8:300::100"}},
	} {
		var rs []Range
		for _, s := range tt.ranges {
			rs = append(rs, rng(s))
		}
		var got []string
		for _, a := range subnetRouterAnycast(rs) {
			got = append(got, a.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("subnetRouterAnycast(%v) = %v, want %v", tt.ranges, got, tt.want)
		}
	}
}
