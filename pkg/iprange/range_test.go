package iprange

import (
	"net/netip"
	"strings"
	"testing"
)

func mustParse(s string) Range {
	r, err := ParseRange(s)
	if err != nil {
		panic(err) // test tables are constants; a typo must be loud
	}
	return r
}

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
			want := Range{First: netip.MustParseAddr(tt.first), Last: netip.MustParseAddr(tt.last)}
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
		if got := mustParse(in).String(); got != want {
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
	if err := (Range{First: a, Last: b}).Validate(); err != nil {
		t.Errorf("valid range: %v", err)
	}
}

// prefixLast is the last address of the prefix: inside it, and the next
// address (if any) outside.
func TestPrefixLast(t *testing.T) {
	for _, base := range []string{"203.0.113.77", "2001:db8:abcd:12::99"} {
		a := netip.MustParseAddr(base)
		for bits := 0; bits <= a.BitLen(); bits++ {
			p := netip.PrefixFrom(a, bits).Masked()
			last := prefixLast(p)
			if !p.Contains(last) {
				t.Fatalf("prefixLast(%s) = %s, outside the prefix", p, last)
			}
			if next := last.Next(); next.IsValid() && p.Contains(next) {
				t.Fatalf("prefixLast(%s) = %s, but %s is inside too", p, last, next)
			}
		}
	}
}
