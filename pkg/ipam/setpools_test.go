package ipam

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func keys(ss ...string) []ServiceKey {
	var out []ServiceKey
	for _, s := range ss {
		out = append(out, svcKey(s))
	}
	return out
}

func TestSetPools(t *testing.T) {
	start := []Pool{pl("a", "192.0.2.0/29"), pl("b", "198.51.100.0/29"), pl("d", "192.0.2.8/29", "2001:db8::/126")}
	setup := []step{
		{req: rq("ns/a0"), pool: "a", ips: []string{"192.0.2.0"}},
		{req: rq("ns/a1"), pool: "a", ips: []string{"192.0.2.1"}},
		{req: rq("ns/a7", ips("192.0.2.7")), pool: "a", ips: []string{"192.0.2.7"}},
		{req: rq("ns/b0", inPool("b"), share("k", "TCP/1")), pool: "b", ips: []string{"198.51.100.0"}},
		{req: rq("ns/b0s", inPool("b"), share("k", "TCP/2")), pool: "b", ips: []string{"198.51.100.0"}},
		{req: rq("ns/d", dual(RequireDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.8", "2001:db8::"}},
	}
	tests := []struct {
		name      string
		pools     []Pool
		lost      []ServiceKey
		moved     []ServiceKey
		wantPools map[string]string // service -> pool afterwards
		ignored   []string
	}{
		{
			name:      "unchanged",
			pools:     start,
			wantPools: map[string]string{"ns/a0": "a", "ns/a7": "a", "ns/b0": "b", "ns/d": "d"},
		},
		{
			name:      "shrink: only services outside lose",
			pools:     []Pool{pl("a", "192.0.2.0/30"), pl("b", "198.51.100.0/29"), pl("d", "192.0.2.8/29", "2001:db8::/126")},
			lost:      keys("ns/a7"),
			wantPools: map[string]string{"ns/a0": "a", "ns/a1": "a", "ns/b0": "b"},
		},
		{
			name:      "delete a pool: shared holders lost together",
			pools:     []Pool{pl("a", "192.0.2.0/29"), pl("d", "192.0.2.8/29", "2001:db8::/126")},
			lost:      keys("ns/b0", "ns/b0s"),
			wantPools: map[string]string{"ns/a0": "a", "ns/d": "d"},
		},
		{
			name:      "delete pool covered by another: re-attributed",
			pools:     []Pool{pl("z", "192.0.2.0/24"), pl("b", "198.51.100.0/29"), pl("d", "192.0.2.8/29", "2001:db8::/126")},
			moved:     keys("ns/a0", "ns/a1", "ns/a7"),
			wantPools: map[string]string{"ns/a0": "z", "ns/a7": "z", "ns/d": "d"},
		},
		{
			name:      "re-attribution goes to the first pool by name",
			pools:     []Pool{pl("y", "192.0.2.0/24"), pl("x", "192.0.2.0/28"), pl("b", "198.51.100.0/29"), pl("d", "192.0.2.8/29", "2001:db8::/126")},
			moved:     keys("ns/a0", "ns/a1", "ns/a7"),
			wantPools: map[string]string{"ns/a0": "x", "ns/a7": "x"},
		},
		{
			name:      "new overlapping pool sorting first does not steal",
			pools:     append([]Pool{pl("0first", "192.0.2.0/24")}, start...),
			wantPools: map[string]string{"ns/a0": "a", "ns/d": "d"},
		},
		{
			name:      "dual-stack service loses when one family leaves",
			pools:     []Pool{pl("a", "192.0.2.0/29"), pl("b", "198.51.100.0/29"), pl("d", "192.0.2.8/29"), pl("v6", "2001:db8::/64")},
			lost:      keys("ns/d"),
			wantPools: map[string]string{"ns/a0": "a"},
		},
		{
			name:      "avoidBuggyIPs switched on drops the .0 holder",
			pools:     []Pool{avoid(pl("a", "192.0.2.0/29")), pl("b", "198.51.100.0/29"), pl("d", "192.0.2.8/29", "2001:db8::/126")},
			lost:      keys("ns/a0"),
			wantPools: map[string]string{"ns/a1": "a"},
		},
		{
			name:  "no pools: everybody lost",
			pools: nil,
			lost:  keys("ns/a0", "ns/a1", "ns/a7", "ns/b0", "ns/b0s", "ns/d"),
		},
		{
			name: "invalid entries ignored and reported",
			pools: append(slices.Clone(start),
				Pool{Name: "a", Ranges: []Range{rng("203.0.113.0/24")}},
				Pool{Name: ""},
				Pool{Name: "bad", Ranges: []Range{{First: netip.MustParseAddr("203.0.113.9"), Last: netip.MustParseAddr("203.0.113.1")}}},
			),
			wantPools: map[string]string{"ns/a0": "a", "ns/d": "d"},
			ignored:   []string{`second definition of address pool "a"`, "empty name", `address pool "bad": ignoring range`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := runSteps(t, start, setup)
			before := map[ServiceKey]Result{}
			for _, k := range a.Services() {
				before[k], _ = a.Get(k)
			}
			ch := a.SetPools(tt.pools)
			mustInvariants(t, a)
			if !slices.Equal(ch.Lost, tt.lost) || !slices.Equal(ch.Moved, tt.moved) {
				t.Fatalf("changes lost=%v moved=%v, want lost=%v moved=%v", ch.Lost, ch.Moved, tt.lost, tt.moved)
			}
			if len(ch.Ignored) != len(tt.ignored) {
				t.Fatalf("ignored %q, want %d entries", ch.Ignored, len(tt.ignored))
			}
			for i, want := range tt.ignored {
				if !strings.Contains(ch.Ignored[i], want) {
					t.Fatalf("ignored[%d] = %q, want it to mention %q", i, ch.Ignored[i], want)
				}
			}
			for k, r := range before {
				got, ok := a.Get(k)
				if slices.Contains(tt.lost, k) {
					if ok {
						t.Fatalf("%s should be lost, has %v", k, got)
					}
					continue
				}
				if !ok || !slices.Equal(got.IPs, r.IPs) {
					t.Fatalf("%s: IPs changed from %v to %v (%v)", k, r.IPs, got.IPs, ok)
				}
			}
			for s, p := range tt.wantPools {
				if got, _ := a.Get(svcKey(s)); got.Pool != p {
					t.Fatalf("%s attributed to %q, want %q", s, got.Pool, p)
				}
			}
		})
	}
}

func TestSetPoolsThenAllocate(t *testing.T) {
	a := runSteps(t, []Pool{pl("a", "192.0.2.0/30")}, []step{
		{req: rq("ns/s0"), pool: "a", ips: []string{"192.0.2.0"}},
		{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.1"}},
	})
	a.SetPools([]Pool{pl("a", "192.0.2.1/32", "192.0.2.2/31")})
	doStep(t, a, 0, step{req: rq("ns/s0"), pool: "a", ips: []string{"192.0.2.2"}})
	doStep(t, a, 1, step{req: rq("ns/s2"), pool: "a", ips: []string{"192.0.2.3"}})
	doStep(t, a, 2, step{req: rq("ns/s3"), reason: PoolExhausted, msg: `pool "a" exhausted (IPv4: 3 of 3 in use)`})
	if got := a.Pools(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Pools = %v", got)
	}
}

func TestStats(t *testing.T) {
	a := runSteps(t, []Pool{
		avoid(pl("a", "192.0.2.0/24", "2001:db8::/64")),
		pl("b", "192.0.2.0/30"),
		pl("big", "2001:db8:1::/63"),
	}, []step{
		{req: rq("ns/s1", dual(RequireDualStack, IPv4, IPv6), inPool("a")), pool: "a", ips: []string{"192.0.2.1", "2001:db8::1"}},
		{req: rq("ns/s2", inPool("b")), pool: "b", ips: []string{"192.0.2.0"}},
		{req: rq("ns/s3", inPool("b")), pool: "b", ips: []string{"192.0.2.2"}},
		{req: rq("ns/s4", fams(IPv6), inPool("big")), pool: "big", ips: []string{"2001:db8:1::"}},
	})
	want := map[string]map[Family]Stats{
		// 192.0.2.0 is held through b but is not part of a (avoidBuggyIPs).
		// 2001:db8:: (subnet-router anycast) is not part of a either: 2^64-1
		// addresses, one assigned.
		"a": {IPv4: {Total: 254, Assigned: 1, Available: 252}, IPv6: {Total: math.MaxUint64, Assigned: 1, Available: math.MaxUint64 - 1}},
		// 192.0.2.1 is held through a but inside b: not available in b.
		"b":   {IPv4: {Total: 4, Assigned: 2, Available: 1}},
		"big": {IPv6: {Total: math.MaxUint64, Assigned: 1, Available: math.MaxUint64}},
	}
	for p, w := range want {
		got := a.Stats(p)
		if len(got) != len(w) {
			t.Fatalf("Stats(%s) = %+v, want %+v", p, got, w)
		}
		for f, s := range w {
			if got[f] != s {
				t.Fatalf("Stats(%s)[%s] = %+v, want %+v", p, f, got[f], s)
			}
		}
	}
	if a.Stats("missing") != nil {
		t.Fatalf("Stats of a missing pool should be nil")
	}
	if got := a.PoolsContaining(netip.MustParseAddr("192.0.2.0")); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("PoolsContaining(.0) = %v", got)
	}
	if got := a.PoolsContaining(netip.MustParseAddr("192.0.2.1")); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("PoolsContaining(.1) = %v", got)
	}
}

func TestValidatePools(t *testing.T) {
	good := []Pool{pl("a", "192.0.2.0/24"), pl("b", "2001:db8::/64")}
	if err := ValidatePools(good); err != nil {
		t.Fatalf("ValidatePools(good) = %v", err)
	}
	for _, bad := range [][]Pool{
		{pl("a", "192.0.2.0/24"), pl("a", "198.51.100.0/24")},
		{{Name: ""}},
		{{Name: "x", Ranges: []Range{{First: netip.MustParseAddr("192.0.2.1"), Last: netip.MustParseAddr("2001:db8::1")}}}},
	} {
		if err := ValidatePools(bad); err == nil {
			t.Errorf("ValidatePools(%v) = nil, want error", bad)
		}
	}
}
