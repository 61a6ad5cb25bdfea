package nftables

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Rule drift: a Service's chain flushed, one of its rules deleted, a rule
// inserted into it, a shard's dispatch chain edited, a shard flushed. The
// cheap check (the full one is off here) repairs each within the drift
// deadline by rewriting only the chains that differ: traffic through the
// VIP comes back, and every other chain keeps its rules, as the kernel's
// rule handles show (a rewritten rule gets a new handle).
func TestRuleDriftRepaired(t *testing.T) {
	l := newTestLab(t)
	ctx := ctxT(t, 120*time.Second)

	b, err := New(Options{NetNS: "/run/netns/" + l.node1.NetNS, CheckInterval: time.Second, FullCheckPeriod: -1})
	must(t, err)
	// One endpoint: the chain is the mark rule and one DNAT rule, so
	// losing the DNAT rule refuses every connection (no lucky round robin).
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
	st := benchState(300, 3) // neighbours, in every shard
	for k, vs := range desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]))).Services {
		st.Services[k] = vs
	}
	apply(t, b, st)
	runChecks(t, b)
	waitServed(ctx, t, l, time.Now(), vip4, vip6)
	// No false alarm: checks run (the first reads every chain) and find
	// nothing.
	for b.Stats().Checks < 3 {
		time.Sleep(100 * time.Millisecond)
	}
	if s := b.Stats(); s.Repairs != 0 {
		t.Fatalf("after applying, stats %+v: want no repair", s)
	}

	tcp4 := datapath.ServiceKey{VIP: vip4, Port: 80, Protocol: datapath.TCP}
	shard := shardName("ironlb", shardOf(tcp4))
	chain := chainName(tcp4)
	svcChain := shard + "/" + chain
	dispatch := shard + "/nat-prerouting"
	for _, tc := range []struct {
		name  string
		drift func(handles map[string][]uint64)
		// rewritten: the chains the repair must rewrite, "table/chain"
		// (nil: every chain of the shard).
		rewritten []string
	}{
		{"service chain flushed", func(map[string][]uint64) {
			nftCmd(ctx, t, l.node1, "flush", "chain", "inet", shard, chain)
		}, []string{svcChain}},
		{"service chain's DNAT rule deleted", func(h map[string][]uint64) {
			if len(h[svcChain]) != 2 {
				t.Fatalf("chain %s has rules %v, want mark and DNAT", svcChain, h[svcChain])
			}
			nftCmd(ctx, t, l.node1, "delete", "rule", "inet", shard, chain, "handle", fmt.Sprint(h[svcChain][1]))
		}, []string{svcChain}},
		{"rule inserted into a service chain", func(map[string][]uint64) {
			nftCmd(ctx, t, l.node1, "insert", "rule", "inet", shard, chain, "reject")
		}, []string{svcChain}},
		{"dispatch rule deleted", func(h map[string][]uint64) {
			// The first rule dispatches IPv4 (then IPv6, see shardSkeleton).
			nftCmd(ctx, t, l.node1, "delete", "rule", "inet", shard, "nat-prerouting", "handle", fmt.Sprint(h[dispatch][0]))
		}, []string{dispatch}},
		{"shard flushed", func(map[string][]uint64) {
			nftCmd(ctx, t, l.node1, "flush", "table", "inet", shard)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tables := tableHandles(ctx, t, l.node1)
			before := ruleHandles(t, b)
			want := tc.rewritten
			if want == nil {
				for c := range before {
					if strings.HasPrefix(c, shard+"/") {
						want = append(want, c)
					}
				}
			}
			stats := b.Stats()
			start := time.Now()
			tc.drift(before)
			// The drift breaks the VIP (unless a check already repaired
			// it, which the stats show).
			try, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, _, err := hello(try, l.client, netip.AddrPortFrom(vip4, 80))
			cancel()
			if err == nil && b.Stats().Repairs == stats.Repairs {
				t.Fatalf("%s: %s still served before any repair: the drift broke nothing", tc.name, vip4)
			}
			took := waitServed(ctx, t, l, start, vip4, vip6)
			var s Stats
			for s = b.Stats(); s.Repairs == stats.Repairs && time.Since(start) < driftDeadline; s = b.Stats() {
				time.Sleep(50 * time.Millisecond)
			}
			if s.Repairs != stats.Repairs+1 || s.TablesRebuilt != stats.TablesRebuilt || s.ChainsRewritten-stats.ChainsRewritten != len(want) {
				t.Fatalf("stats before %+v, after %+v: want one repair rewriting %d chains, no table rebuilt", stats, s, len(want))
			}
			after := ruleHandles(t, b)
			if !slices.Equal(slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before))) {
				t.Fatalf("chains after repair %v, before %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
			// A table rebuilt gets a new handle (its rules may get the
			// same ones again), and a rule added by the repair to a table
			// that stays gets a new handle: the chains whose handles
			// changed are the ones it wrote.
			if got := tableHandles(ctx, t, l.node1); !maps.Equal(got, tables) {
				t.Fatalf("table handles after repair %v, before %v: a table was rebuilt", got, tables)
			}
			var rewritten []string
			for c, hs := range after {
				if !slices.Equal(hs, before[c]) {
					rewritten = append(rewritten, c)
				}
			}
			slices.Sort(rewritten)
			slices.Sort(want)
			if !slices.Equal(rewritten, want) {
				t.Fatalf("chains whose rules changed: %v, want %v", rewritten, want)
			}
			t.Logf("%s: traffic back after %v, %d chains rewritten", tc.name, took.Round(time.Millisecond), len(want))
		})
	}
}

// tableHandles returns the handles of the IronLB tables on host, by name.
func tableHandles(ctx context.Context, t *testing.T, host *vlan.Host) map[string]int {
	t.Helper()
	var doc struct {
		Nftables []struct {
			Table *struct {
				Name   string
				Handle int
			}
		}
	}
	if err := json.Unmarshal([]byte(nftCmd(ctx, t, host, "-j", "list", "tables")), &doc); err != nil {
		t.Fatalf("nft -j list tables: %v", err)
	}
	out := map[string]int{}
	for _, o := range doc.Nftables {
		if o.Table != nil && owned("ironlb", o.Table.Name) {
			out[o.Table.Name] = o.Table.Handle
		}
	}
	if len(out) != shardCount+1 {
		t.Fatalf("IronLB tables on %s: %v", host.Name, out)
	}
	return out
}

// The chains' use counts are read only when the ruleset's generation
// moved since a check found them in line: our own transactions carry the
// verification forward, another program's commit does not, and neither
// does our transaction when a foreign change came just before it (the
// change must not hide behind ours).
func TestChainReadsFollowGeneration(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1})
	node := lab.Nodes[0]
	ctx := ctxT(t, 60*time.Second)
	b := backendFor(t, node)
	st := benchState(50, 2)
	apply(t, b, st)
	keys := st.SortedKeys()
	// change gives service i another endpoint port: one chain rewritten.
	change := func(i int) {
		t.Helper()
		next := st.Clone()
		vs := next.Services[keys[i]]
		vs.Backends = map[netip.AddrPort]datapath.Backend{netip.MustParseAddrPort(fmt.Sprintf("192.0.2.9:%d", 30000+i)): {Weight: 1}}
		next.Services[keys[i]] = vs
		must(t, b.Update(ctx, next, []datapath.ServiceKey{keys[i]}))
		st = next
	}
	step := func(what string, wantReads int, wantRepair []string) {
		t.Helper()
		before := b.Stats().ChainReads
		repaired, err := b.Check(ctx, false)
		must(t, err)
		slices.Sort(repaired)
		if got := b.Stats().ChainReads - before; got != wantReads || !slices.Equal(repaired, wantRepair) {
			t.Fatalf("%s: check read the chains %d times and repaired %v, want %d and %v", what, got, repaired, wantReads, wantRepair)
		}
	}
	step("first check", 1, nil)
	step("nothing changed", 0, nil)
	change(0)
	step("after our own update", 0, nil)
	nftCmd(ctx, t, node, "add", "table", "ip", "foreign")
	step("after another program's commit", 1, nil)
	step("nothing changed since", 0, nil)

	victim := chainRef{shardName("ironlb", shardOf(keys[1])), chainName(keys[1])}
	nftCmd(ctx, t, node, "flush", "chain", "inet", victim.Table, victim.Chain)
	change(2)
	// The repair reads the chains again right after its commit (to see
	// that it holds); that read verifies the generation for the next check.
	step("a chain flushed just before our update", 2, []string{victim.Table + "/" + victim.Chain})
	step("after the repair", 0, nil)
	step("verified again", 0, nil)
}

// A kernel that counts a chain's uses otherwise than the backend does
// (simulated: the backend's own count for one chain is off by one) would
// have the chain rewritten at every check for ever. After maxRepairMisses
// repairs that did not hold even right after their commit, the chain is
// no longer judged by its count; other chains still are, and the chain
// itself is rebuilt with its table.
func TestChainThatNeverMatchesIsNoLongerJudged(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1})
	node := lab.Nodes[0]
	ctx := ctxT(t, 60*time.Second)
	b := backendFor(t, node)
	st := benchState(20, 2)
	apply(t, b, st)
	keys := st.SortedKeys()
	odd := chainRef{shardName("ironlb", shardOf(keys[0])), chainName(keys[0])}
	b.mu.Lock()
	w := b.chains[odd]
	w.Use++
	b.chains[odd] = w
	b.mu.Unlock()
	check := func(what string, want []string) {
		t.Helper()
		repaired, err := b.Check(ctx, false)
		must(t, err)
		slices.Sort(repaired)
		if !slices.Equal(repaired, want) {
			t.Fatalf("%s: repaired %v, want %v", what, repaired, want)
		}
	}
	for i := range maxRepairMisses {
		check(fmt.Sprintf("check %d", i+1), []string{odd.Table + "/" + odd.Chain})
	}
	if s := b.Stats(); s.Unjudged != 1 {
		t.Fatalf("after %d repairs that did not hold: stats %+v, want 1 chain unjudged", maxRepairMisses, s)
	}
	check("after giving up on it", nil)

	// Another chain flushed is still repaired, and a program flushing it
	// after every repair is not taken for a kernel that counts otherwise.
	other := chainRef{shardName("ironlb", shardOf(keys[1])), chainName(keys[1])}
	for i := range maxRepairMisses + 1 {
		nftCmd(ctx, t, node, "flush", "chain", "inet", other.Table, other.Chain)
		check(fmt.Sprintf("other chain flushed, %d", i+1), []string{other.Table + "/" + other.Chain})
	}
	if s := b.Stats(); s.Unjudged != 1 {
		t.Fatalf("a chain flushed again after each repair: stats %+v, want still 1 chain unjudged", s)
	}
	// The unjudged chain's table deleted (a chain that a map element
	// points at cannot be deleted alone): rebuilt, with the chain.
	nftCmd(ctx, t, node, "delete", "table", "inet", odd.Table)
	check("unjudged chain's table deleted", []string{odd.Table})
	nftCmd(ctx, t, node, "list", "chain", "inet", odd.Table, odd.Chain)
}
