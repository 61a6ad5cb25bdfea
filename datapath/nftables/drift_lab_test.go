package nftables

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// driftDeadline is how soon drift must be repaired (issue: within 5 s).
const driftDeadline = 5 * time.Second

// foreignRules is another program's table, loaded the way a firewall
// service does on (re)start.
const foreignRules = "table ip foreign {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 22 counter accept\n }\n}\n"

// nftLoad feeds a ruleset to `nft -f -` in host's namespace.
func nftLoad(ctx context.Context, t *testing.T, host *vlan.Host, rules string) {
	t.Helper()
	if out, err := host.Exec(ctx, "sh", "-c", "printf '"+strings.ReplaceAll(rules, "\n", "\\n")+"' | nft -f -"); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
}

func nftCmd(ctx context.Context, t *testing.T, host *vlan.Host, args ...string) string {
	t.Helper()
	out, err := host.Exec(ctx, "nft", args...)
	if err != nil {
		t.Fatalf("nft %v: %v: %s", args, err, out)
	}
	return string(out)
}

// waitServed sends one request every 20 ms to every VIP from the client
// until each answers, and returns how long that took from since.
func waitServed(ctx context.Context, t *testing.T, l *testLab, since time.Time, vips ...netip.Addr) time.Duration {
	t.Helper()
	for _, vip := range vips {
		for {
			try, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, _, err := hello(try, l.client, netip.AddrPortFrom(vip, 80))
			cancel()
			if err == nil {
				break
			}
			if time.Since(since) > driftDeadline {
				t.Fatalf("%s not served %v after the drift: %v", vip, driftDeadline, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return time.Since(since)
}

// Drift: the ruleset flushed, an IronLB table deleted or emptied, an
// element removed from a services map. Each is repaired within 5 s by
// rebuilding only the tables that drifted, and the foreign table is never
// touched.
func TestDriftRepaired(t *testing.T) {
	l := newTestLab(t)
	ctx := ctxT(t, 90*time.Second)
	nftLoad(ctx, t, l.node1, foreignRules)

	b, err := New(Options{NetNS: "/run/netns/" + l.node1.NetNS, CheckInterval: time.Second, FullCheckPeriod: 2 * time.Second})
	must(t, err)
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP, corev1.ProtocolUDP)
	st := desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["b1"])))
	apply(t, b, st)
	runChecks(t, b)
	waitServed(ctx, t, l, time.Now(), vip4, vip6)

	// No false alarm: checks run, full ones included, and find nothing.
	for b.Stats().FullChecks < 2 {
		time.Sleep(100 * time.Millisecond)
	}
	if s := b.Stats(); s.Repairs != 0 || s.Checks < 3 {
		t.Fatalf("after applying, stats %+v: want checks and no repair", s)
	}

	tcp4 := datapath.ServiceKey{VIP: vip4, Port: 80, Protocol: datapath.TCP}
	shard := shardName("ironlb", shardOf(tcp4))
	for _, tc := range []struct {
		name string
		// drift changes node1's ruleset behind the backend's back.
		drift func()
		// rebuilt: the tables the repair must rebuild (nil: every owned one).
		rebuilt []string
		// rewritten: how many chains it must rewrite on their own.
		rewritten int
	}{
		{"firewall restart (flush ruleset)", func() { nftLoad(ctx, t, l.node1, "flush ruleset\n"+foreignRules) }, nil, 0},
		{"flush ruleset", func() {
			nftCmd(ctx, t, l.node1, "flush", "ruleset")
			nftLoad(ctx, t, l.node1, foreignRules)
		}, nil, 0},
		{"shard table deleted", func() { nftCmd(ctx, t, l.node1, "delete", "table", "inet", shard) }, []string{shard}, 0},
		{"main table flushed", func() { nftCmd(ctx, t, l.node1, "flush", "table", "inet", "ironlb") }, []string{"ironlb"}, 0},
		// The element's goto counted in its chain's use count: that chain
		// is rewritten and its element added again.
		{"service map element deleted", func() {
			nftCmd(ctx, t, l.node1, "delete", "element", "inet", shard, "services4", "{ 203.0.113.10 . tcp . 80 }")
		}, []string{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Stats()
			start := time.Now()
			tc.drift()
			// The foreign table as the drift left it (a flush took it too,
			// and the firewall loaded it again): the repair must not touch it.
			foreign := nftCmd(ctx, t, l.node1, "-j", "list", "table", "ip", "foreign")
			took := waitServed(ctx, t, l, start, vip4, vip6)
			// The repair that brought traffic back is counted once it is
			// committed; let a late check land before reading.
			var s Stats
			for s = b.Stats(); s.Repairs == before.Repairs && time.Since(start) < driftDeadline; s = b.Stats() {
				time.Sleep(50 * time.Millisecond)
			}
			want := tc.rebuilt
			if want == nil {
				want = allTables("ironlb")
			}
			if s.Repairs != before.Repairs+1 || s.TablesRebuilt-before.TablesRebuilt != len(want) || s.ChainsRewritten-before.ChainsRewritten != tc.rewritten {
				t.Fatalf("stats before %+v, after %+v: want one repair rebuilding %d tables %v and rewriting %d chains", before, s, len(want), want, tc.rewritten)
			}
			got := tablesOf(ctx, t, l.node1)
			if !slices.Equal(got, slices.Sorted(slices.Values(append(allTables("ironlb"), "foreign")))) {
				t.Fatalf("tables after repair: %v", got)
			}
			if f := nftCmd(ctx, t, l.node1, "-j", "list", "table", "ip", "foreign"); f != foreign {
				t.Fatalf("foreign table changed:\nbefore %s\nafter  %s", foreign, f)
			}
			t.Logf("%s: traffic back after %v", tc.name, took.Round(time.Millisecond))
		})
	}
}

// runChecks runs b's drift checks (Run) until the test ends.
func runChecks(t testing.TB, b *Backend) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
}

// allTables names the main table and its shards, sorted.
func allTables(base string) []string {
	out := []string{base}
	for i := range shardCount {
		out = append(out, shardName(base, i))
	}
	return out
}

// tablesOf lists the table names of host's ruleset, sorted.
func tablesOf(ctx context.Context, t *testing.T, host *vlan.Host) []string {
	var out []string
	for _, line := range strings.Split(nftCmd(ctx, t, host, "list", "tables"), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			out = append(out, f[2])
		}
	}
	slices.Sort(out)
	return out
}
