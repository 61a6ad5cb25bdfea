package nftables

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/datapath"
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
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
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
			// A rule added by the repair gets a new handle: the chains
			// whose handles changed are the ones it wrote.
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
