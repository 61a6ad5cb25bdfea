package nftables

import (
	"slices"
	"testing"
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
