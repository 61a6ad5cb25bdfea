package nftables

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/datapath"
)

func TestTablesToRepair(t *testing.T) {
	ok := tableSig{Present: true, Use: 6, Canary: "meta"}
	shard := tableSig{Present: true, Use: 3, Canary: "2"}
	want := map[string]tableSig{"ironlb": ok, "ironlb-svc00": shard, "ironlb-svc01": shard}
	for _, tc := range []struct {
		name string
		have map[string]tableSig
		want []string
	}{
		{"in line", map[string]tableSig{"ironlb": ok, "ironlb-svc00": shard, "ironlb-svc01": shard}, nil},
		{"flush ruleset", map[string]tableSig{}, []string{"ironlb", "ironlb-svc00", "ironlb-svc01"}},
		{"one table deleted", map[string]tableSig{"ironlb": ok, "ironlb-svc01": shard}, []string{"ironlb-svc00"}},
		{"table flushed", map[string]tableSig{"ironlb": {Present: true, Use: 6, Canary: ""}, "ironlb-svc00": shard, "ironlb-svc01": shard}, []string{"ironlb"}},
		{"chain lost", map[string]tableSig{"ironlb": ok, "ironlb-svc00": shard, "ironlb-svc01": {Present: true, Use: 2, Canary: "2"}}, []string{"ironlb-svc01"}},
		{"detail differs", map[string]tableSig{"ironlb": ok, "ironlb-svc00": shard, "ironlb-svc01": {Present: true, Use: 3, Canary: "2", Detail: "x"}}, []string{"ironlb-svc01"}},
		{"foreign tables are not ours to judge", map[string]tableSig{"ironlb": ok, "ironlb-svc00": shard, "ironlb-svc01": shard, "filter": {}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tablesToRepair(want, tc.have); !slices.Equal(got, tc.want) {
				t.Fatalf("tablesToRepair = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlanRepair(t *testing.T) {
	svc := datapath.ServiceKey{VIP: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: datapath.TCP}
	a := chainRef{"ironlb-svc00", "svc4-203.0.113.10-tcp-80"}
	b := chainRef{"ironlb-svc00", "svc4-203.0.113.11-tcp-80"}
	d := chainRef{"ironlb-svc00", "nat-prerouting"}
	c := chainRef{"ironlb-svc01", "svc4-203.0.113.12-tcp-80"}
	m := chainRef{"ironlb", "ironlb-meta"}
	want := map[chainRef]chainWant{
		a: {Use: 3, Service: true, Key: svc},
		b: {Use: 2, Service: true},
		d: {Use: 2},
		c: {Use: 4, Service: true},
		m: {Use: 1},
	}
	inLine := func() map[chainRef]uint32 { return map[chainRef]uint32{a: 3, b: 2, d: 2, c: 4, m: 1} }
	with := func(edit func(map[chainRef]uint32)) map[chainRef]uint32 {
		h := inLine()
		edit(h)
		return h
	}
	for _, tc := range []struct {
		name     string
		tables   []string // from tablesToRepair
		have     map[chainRef]uint32
		want     repairPlan
		unjudged map[chainRef]bool
	}{
		{"in line", nil, inLine(), repairPlan{}, nil},
		{"chains not read (generation unchanged)", nil, nil, repairPlan{}, nil},
		{"tables still repaired when chains are not read", []string{"ironlb"}, nil, repairPlan{Tables: []string{"ironlb"}}, nil},
		{"service chain flushed: only the map's goto left", nil, with(func(h map[chainRef]uint32) { h[a] = 1 }), repairPlan{Chains: []chainRef{a}}, nil},
		{"one rule deleted", nil, with(func(h map[chainRef]uint32) { h[c] = 3 }), repairPlan{Chains: []chainRef{c}}, nil},
		{"rule added", nil, with(func(h map[chainRef]uint32) { h[b] = 3 }), repairPlan{Chains: []chainRef{b}}, nil},
		{"dispatch chain edited", nil, with(func(h map[chainRef]uint32) { h[d] = 1 }), repairPlan{Chains: []chainRef{d}}, nil},
		{"several chains, sorted by table and name", nil, with(func(h map[chainRef]uint32) { h[c], h[m], h[d], h[a] = 0, 0, 0, 0 }),
			repairPlan{Chains: []chainRef{m, d, a, c}}, nil},
		{"chain deleted: its table is rebuilt, not the chain", nil, with(func(h map[chainRef]uint32) { delete(h, b) }),
			repairPlan{Tables: []string{"ironlb-svc00"}}, nil},
		{"a missing chain's table takes its drifted siblings", nil, with(func(h map[chainRef]uint32) { delete(h, b); h[a], h[c] = 0, 0 }),
			repairPlan{Tables: []string{"ironlb-svc00"}, Chains: []chainRef{c}}, nil},
		{"chains of a rebuilt table are not rewritten too", []string{"ironlb-svc01"}, with(func(h map[chainRef]uint32) { h[c], h[a] = 0, 0 }),
			repairPlan{Tables: []string{"ironlb-svc01"}, Chains: []chainRef{a}}, nil},
		{"table gone: every chain missing", []string{"ironlb"}, with(func(h map[chainRef]uint32) { delete(h, m) }), repairPlan{Tables: []string{"ironlb"}}, nil},
		{"foreign and unwanted chains are not judged here", nil, with(func(h map[chainRef]uint32) {
			h[chainRef{"filter", "input"}] = 7
			h[chainRef{"ironlb-svc00", "extra"}] = 1
		}),
			repairPlan{}, nil},
		{"an unjudged chain's count is not compared", nil, with(func(h map[chainRef]uint32) { h[a], h[c] = 9, 0 }),
			repairPlan{Chains: []chainRef{c}}, map[chainRef]bool{a: true}},
		{"an unjudged chain missing still takes its table", nil, with(func(h map[chainRef]uint32) { delete(h, a) }),
			repairPlan{Tables: []string{"ironlb-svc00"}}, map[chainRef]bool{a: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planRepair(tc.tables, want, tc.have, tc.unjudged)
			if !slices.Equal(got.Tables, tc.want.Tables) || !slices.Equal(got.Chains, tc.want.Chains) {
				t.Fatalf("planRepair = %+v, want %+v", got, tc.want)
			}
			if got.Empty() != (len(tc.want.Tables) == 0 && len(tc.want.Chains) == 0) {
				t.Fatalf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

func TestStillDiffer(t *testing.T) {
	a := chainRef{"ironlb-svc00", "svc4-203.0.113.10-tcp-80"}
	b := chainRef{"ironlb-svc00", "svc4-203.0.113.11-tcp-80"}
	gone := chainRef{"ironlb-svc01", "svc4-203.0.113.12-tcp-80"}
	want := map[chainRef]chainWant{a: {Use: 3}, b: {Use: 2}}
	misses := map[chainRef]int{}
	// The kernel shows a with one use more every time, b in line.
	after := map[chainRef]uint32{a: 4, b: 2}
	for i := 1; i <= maxRepairMisses+1; i++ {
		var give []chainRef
		misses, give = stillDiffer([]chainRef{a, b}, want, after, misses)
		if misses[a] != i || misses[b] != 0 {
			t.Fatalf("repair %d: misses %v, want a=%d and no b", i, misses, i)
		}
		if wantGive := i == maxRepairMisses; (len(give) == 1 && give[0] == a) != wantGive || len(give) > 1 {
			t.Fatalf("repair %d: given up on %v, want a only at repair %d", i, give, maxRepairMisses)
		}
	}
	// In line right after a repair (a program flushing it again later):
	// the count starts over. Chains no longer programmed are dropped.
	misses[gone] = 2
	misses, give := stillDiffer([]chainRef{a}, want, map[chainRef]uint32{a: 3, b: 2}, misses)
	if len(misses) != 0 || give != nil {
		t.Fatalf("in line after the repair: misses %v, given up %v; want none", misses, give)
	}
	in := map[chainRef]int{a: 1}
	stillDiffer([]chainRef{a}, want, after, in)
	if in[a] != 1 {
		t.Fatalf("stillDiffer changed its input: %v", in)
	}
}
