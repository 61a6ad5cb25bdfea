package ipam

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in          string
		first, last string
		wantErr     string // substring; the input is always quoted too
	}{
		{in: "192.0.2.0/24", first: "192.0.2.0", last: "192.0.2.255"},
		{in: "192.0.2.7/32", first: "192.0.2.7", last: "192.0.2.7"},
		{in: "  198.51.100.0/25 ", first: "198.51.100.0", last: "198.51.100.127"},
		{in: "0.0.0.0/0", first: "0.0.0.0", last: "255.255.255.255"},
		{in: "192.0.2.10-192.0.2.20", first: "192.0.2.10", last: "192.0.2.20"},
		{in: "192.0.2.10 - 192.0.2.20", first: "192.0.2.10", last: "192.0.2.20"},
		{in: "192.0.2.10 -192.0.2.10", first: "192.0.2.10", last: "192.0.2.10"},
		{in: "2001:db8::/64", first: "2001:db8::", last: "2001:db8::ffff:ffff:ffff:ffff"},
		{in: "2001:db8::1/128", first: "2001:db8::1", last: "2001:db8::1"},
		{in: "::/0", wantErr: "IPv4-mapped block"},
		{in: "0::/80", wantErr: "IPv4-mapped block"},
		{in: "::1-::1:0:0:0", wantErr: "IPv4-mapped block"},
		{in: "::/81", first: "::", last: "::7fff:ffff:ffff"},
		{in: "::1:0:0:0/96", first: "::1:0:0:0", last: "::1:0:ffff:ffff"},
		{in: "2000::/3", first: "2000::", last: "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{in: "2001:db8::10-2001:db8::20", first: "2001:db8::10", last: "2001:db8::20"},
		{in: "2001:db8::10 - 2001:db8::1:0", first: "2001:db8::10", last: "2001:db8::1:0"},

		{in: "192.0.2.1/24", wantErr: "host bits are set; did you mean 192.0.2.0/24?"},
		{in: "2001:db8::1/64", wantErr: "did you mean 2001:db8::/64?"},
		{in: "192.0.2.20-192.0.2.10", wantErr: "start 192.0.2.20 is after end 192.0.2.10"},
		{in: "192.0.2.1-2001:db8::1", wantErr: "start 192.0.2.1 is IPv4 but end 2001:db8::1 is IPv6"},
		{in: "fe80::1%eth0-fe80::2", wantErr: "IPv6 zone"},
		{in: "fe80::%eth0/64", wantErr: "not a valid CIDR prefix"},
		{in: "::ffff:192.0.2.0/120", wantErr: "IPv4-mapped"},
		{in: "::ffff:192.0.2.1-::ffff:192.0.2.9", wantErr: "IPv4-mapped"},
		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: "banana", wantErr: "expected a CIDR prefix"},
		{in: "192.0.2.1", wantErr: "192.0.2.1/32"},
		{in: "2001:db8::1", wantErr: "2001:db8::1/128"},
		{in: "192.0.2.0/33", wantErr: "not a valid CIDR prefix"},
		{in: "192.0.2.0/", wantErr: "not a valid CIDR prefix"},
		{in: "192.0.2.0/24-192.0.2.9", wantErr: "not both"},
		{in: "192.0.2.1-192.0.2.2-192.0.2.3", wantErr: "more than one '-'"},
		{in: "-192.0.2.2", wantErr: "start address is missing"},
		{in: "192.0.2.2-", wantErr: "end address is missing"},
		{in: "192.0.2.300-192.0.2.301", wantErr: `start "192.0.2.300" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRange(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseRange(%q) = %v, want error", tt.in, r)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `"`+tt.in+`"`) {
					t.Fatalf("error %q should contain %q and the quoted input", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tt.in, err)
			}
			want := Range{netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last)}
			if r != want {
				t.Fatalf("ParseRange(%q) = %v, want %v", tt.in, r, want)
			}
			back, err := ParseRange(r.String())
			if err != nil || back != r {
				t.Fatalf("round trip via %q: %v, %v", r.String(), back, err)
			}
		})
	}
}

func TestRangeString(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.0-192.0.2.255":   "192.0.2.0/24",
		"192.0.2.0 - 192.0.2.127": "192.0.2.0/25",
		"192.0.2.1-192.0.2.2":     "192.0.2.1-192.0.2.2",
		"192.0.2.0-192.0.2.2":     "192.0.2.0-192.0.2.2",
		"2001:db8::-2001:db8::3":  "2001:db8::/126",
		"192.0.2.5-192.0.2.5":     "192.0.2.5/32",
	} {
		if got := rng(in).String(); got != want {
			t.Errorf("%q.String() = %q, want %q", in, got, want)
		}
	}
}

func TestRangeValidate(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")
	v6 := netip.MustParseAddr("2001:db8::1")
	bad := []Range{
		{},
		{First: a},
		{First: b, Last: a},
		{First: a, Last: v6},
		{First: v6.WithZone("eth0"), Last: v6.WithZone("eth0")},
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("%#v.Validate() = nil, want error", r)
		}
	}
	if err := (Range{a, b}).Validate(); err != nil {
		t.Errorf("valid range: %v", err)
	}
}

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
