package datapath_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// repairBound is how soon after something else flushed the node's ruleset
// every VIP must answer again (issue: drift is repaired within 5 s).
const repairBound = 5 * time.Second

// A firewall service restarting on a node (`nft flush ruleset`, then its
// own table loaded again) takes IronLB's rules with it. The whole system
// (layer 2 and BGP dual-stack Services, pods on every node, FRR) runs under
// steady client traffic to every VIP, one request every 15 ms; the ruleset
// is flushed on each node that announces a layer 2 address (so both layer
// 2 families lose their path; the BGP addresses lose the third of their
// connections the router sends to that node). Every VIP answers again
// within 5 s: no request sent later than that fails. The firewall's table
// is left as the firewall loaded it.
func TestFlushedRulesetIsRepaired(t *testing.T) {
	s := cluster.StartSystem(t, cluster.SystemOptions{})
	c := s.C
	s.WaitBGPRoutes(t)
	var nodes []string
	for _, vip := range s.VIPs["lan"] {
		n := c.WaitForAnnouncer(t, "default", "lan", vip.Addr(), func(string) bool { return true })
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	traffic := cluster.StartTraffic(t, c.Lab.Clients[0], 15*time.Millisecond, time.Second, s.AllVIPs()...)
	time.Sleep(time.Second)
	for vip, n := range traffic.Snapshot() {
		if n.Failed > 0 {
			t.Fatalf("%s: %d requests failed before the flush: %v", vip, n.Failed, n.LastError)
		}
	}
	for _, node := range nodes {
		t.Run("flush on "+node, func(t *testing.T) { flushAndRepair(t, c, traffic, node) })
	}
}

// flushAndRepair restarts a firewall on node under traffic and checks that
// every target answers again within repairBound.
func flushAndRepair(t *testing.T, c *cluster.Cluster, traffic *cluster.Traffic, node string) {
	ctx := context.Background()
	h := c.Lab.Host(node)
	const firewall = "flush ruleset\ntable ip firewall {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 22 counter accept\n }\n}\n"
	before := traffic.Snapshot()
	flushed := time.Now()
	// nft -f applies the file as one transaction: once it succeeded, the
	// ruleset was flushed (the repair may follow within milliseconds, so
	// listing the tables afterwards would race with it).
	out, err := h.Exec(ctx, "sh", "-c", "printf '"+strings.ReplaceAll(firewall, "\n", "\\n")+"' | nft -f -")
	if err != nil {
		t.Fatalf("firewall restart on %s: %v: %s", node, err, out)
	}
	fw, err := h.Exec(ctx, "nft", "-j", "list", "table", "ip", "firewall")
	if err != nil {
		t.Fatal(err)
	}
	// A request is recorded at most its timeout (1 s) after it was sent:
	// the requests recorded after repairBound+1s were all sent after
	// repairBound.
	time.Sleep(time.Until(flushed.Add(repairBound + 1100*time.Millisecond)))
	settled := traffic.Snapshot()
	time.Sleep(2 * time.Second)
	end := traffic.Snapshot()
	for vip, n := range cluster.Since(before, settled) {
		t.Logf("flush on %s: %s: %d of %d requests failed, sent %v after the flush", node, vip, n.Failed, n.Sent, cluster.Offsets(n.FailedSent, flushed))
		for _, at := range n.FailedSent {
			if d := at.Sub(flushed); d > repairBound {
				t.Errorf("%s: a request sent %v after the flush on %s failed, want every VIP answering within %v: %v", vip, d.Round(time.Millisecond), node, repairBound, n.LastError)
			}
		}
	}
	for vip, n := range cluster.Since(settled, end) {
		if n.Sent == 0 || n.Failed > 0 {
			t.Errorf("%s: %d of %d requests failed from %v after the flush on %s: %v", vip, n.Failed, n.Sent, repairBound+1100*time.Millisecond, node, n.LastError)
		}
	}
	out, err = h.Exec(ctx, "nft", "list", "tables")
	if err != nil || !strings.Contains(string(out), "table inet ironlb\n") {
		t.Fatalf("IronLB's tables not back on %s: %v: %s", node, err, out)
	}
	if after, err := h.Exec(ctx, "nft", "-j", "list", "table", "ip", "firewall"); err != nil || string(after) != string(fw) {
		t.Fatalf("the firewall's table changed on %s: %v\nbefore %s\nafter  %s", node, err, fw, after)
	}
}
