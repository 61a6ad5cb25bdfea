package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
)

// FuzzCompilePoolAddresses feeds comma-separated address strings into a
// pool next to a fixed pool. Compile must not panic; it succeeds exactly
// when every entry parses, no two ranges overlap and the list respects the
// CRD limits, and then the pool holds exactly the given ranges.
func FuzzCompilePoolAddresses(f *testing.F) {
	for _, s := range []string{
		"192.0.2.0/24",
		"192.0.2.0/25,192.0.2.128/25",
		"192.0.2.10-192.0.2.20,2001:db8::/64",
		"192.0.2.20-192.0.2.10",
		"203.0.113.5/32",
		"198.51.100.0/24,198.51.100.128/25",
		"2001:db8::1-2001:db8::1,::/0",
		"0.0.0.0/0",
		"::ffff:192.0.2.1/128",
		"fe80::1%eth0/128",
		"192.0.2.0 - 192.0.2.255",
		"",
		",",
		"1.2.3.4/33",
	} {
		f.Add(s)
	}
	fixed, _ := ipam.ParseRange("203.0.113.0/24")
	f.Fuzz(func(t *testing.T, in string) {
		addrs := strings.Split(in, ",")
		res := Resources{Pools: []v1beta1.IPAddressPool{pool("fuzz", addrs...), pool("fixed", fixed.String())}}
		cfg, err := Compile(res)

		// What the result must be, worked out independently.
		var parsed []ipam.Range
		valid := len(addrs) <= maxPoolAddresses
		for _, a := range addrs {
			r, perr := ipam.ParseRange(a)
			if perr != nil || len(a) > maxAddressLength {
				valid = false
				continue
			}
			parsed = append(parsed, r)
		}
		all := append(slices.Clone(parsed), fixed)
		for i := range all {
			for j := i + 1; j < len(all); j++ {
				if overlaps(all[i], all[j]) {
					valid = false
				}
			}
		}

		if !valid {
			if len(err) == 0 {
				t.Fatalf("Compile(%q) = no errors; want Errors", in)
			}
			for _, e := range err {
				if e.Kind != KindIPAddressPool || !strings.HasPrefix(e.Field, "spec.addresses") {
					t.Fatalf("unexpected error %v", e)
				}
			}
			// The invalid pool is set aside on its own: the other one
			// stays in force, whatever the fuzzed one holds.
			if n, ok := cfg.PoolFor(fixed.First); !ok || n != "fixed" {
				t.Fatalf("Compile(%q): PoolFor(%s) = %q, %v; the valid pool must stay in force", in, fixed.First, n, ok)
			}
			if _, ok := cfg.Pool("fuzz"); ok {
				t.Fatalf("Compile(%q): the invalid pool is in force", in)
			}
			return
		}
		if err != nil {
			t.Fatalf("Compile(%q): %v", in, err)
		}
		p, ok := cfg.Pool("fuzz")
		if !ok {
			t.Fatal("pool missing")
		}
		got := p.Ranges()
		cmpRange := func(a, b ipam.Range) int {
			if c := a.First.Compare(b.First); c != 0 {
				return c
			}
			return a.Last.Compare(b.Last)
		}
		slices.SortFunc(got, cmpRange)
		slices.SortFunc(parsed, cmpRange)
		if !slices.Equal(got, parsed) {
			t.Fatalf("ranges = %v, want %v", got, parsed)
		}
		covered := func(a netip.Addr) bool {
			return slices.ContainsFunc(all, func(r ipam.Range) bool { return r.Contains(a) })
		}
		for _, r := range parsed {
			for _, a := range []netip.Addr{r.First, r.Last} {
				if n, ok := cfg.PoolFor(a); !ok || n != "fuzz" {
					t.Fatalf("PoolFor(%s) = %q, %v", a, n, ok)
				}
			}
			for _, a := range []netip.Addr{r.First.Prev(), r.Last.Next()} {
				if a.IsValid() && !covered(a) {
					if n, ok := cfg.PoolFor(a); ok {
						t.Fatalf("PoolFor(%s) = %q outside every range", a, n)
					}
				}
			}
		}
		var pools []ipam.Pool
		for _, p := range cfg.Pools() {
			pools = append(pools, ipam.Pool{Name: p.Name, Ranges: p.Ranges()})
		}
		if err := ipam.ValidatePools(pools); err != nil {
			t.Fatal(err)
		}
	})
}

func overlaps(a, b ipam.Range) bool {
	return a.First.BitLen() == b.First.BitLen() && a.First.Compare(b.Last) <= 0 && b.First.Compare(a.Last) <= 0
}
