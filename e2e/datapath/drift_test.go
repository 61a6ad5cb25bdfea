package datapath_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// A firewall service restarting on the announcing node (`nft flush
// ruleset`, then its own table loaded again) takes IronLB's rules with it:
// the speaker puts them back within 5 s while a client sends a request
// every 15 ms, and leaves the firewall's table as the firewall loaded it.
func TestFlushedRulesetIsRepaired(t *testing.T) {
	c := setup(t)
	client := c.Lab.Clients[0]
	pod := c.StartPod(t, "node1", "web-a")
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pod)...)
	vip := c.WaitForIPs(t, "default", "web", 1)[0]
	owner := c.WaitForAnnouncer(t, "default", "web", vip, func(string) bool { return true })
	var node *vlan.Host
	for _, n := range c.Lab.Nodes {
		if n.Name == owner {
			node = n
		}
	}
	cluster.Eventually(t, 30*time.Second, "the VIP to answer", func() error {
		_, _, err := ask(context.Background(), client, vip)
		return err
	})

	// Steady client traffic, one request every 15 ms; each result is
	// stamped with the request's start.
	type result struct {
		at time.Time
		ok bool
	}
	var mu sync.Mutex
	var results []result
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			start := time.Now()
			try, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, _, err := ask(try, client, vip)
			cancel()
			mu.Lock()
			results = append(results, result{start, err == nil})
			mu.Unlock()
			time.Sleep(15 * time.Millisecond)
		}
	}()
	defer func() {
		stop()
		<-done
	}()
	time.Sleep(500 * time.Millisecond)

	const firewall = "flush ruleset\ntable ip firewall {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 22 counter accept\n }\n}\n"
	flushed := time.Now()
	// nft -f applies the file as one transaction: once it succeeded, the
	// ruleset was flushed (the repair may follow within milliseconds, so
	// listing the tables afterwards would race with it).
	out, err := node.Exec(context.Background(), "sh", "-c", "printf '"+strings.ReplaceAll(firewall, "\n", "\\n")+"' | nft -f -")
	if err != nil {
		t.Fatalf("firewall restart on %s: %v: %s", owner, err, out)
	}
	fw, err := node.Exec(context.Background(), "nft", "-j", "list", "table", "ip", "firewall")
	if err != nil {
		t.Fatal(err)
	}

	// Requests started after the flush: the last failure comes within 5 s
	// of it, and answers follow.
	time.Sleep(6 * time.Second)
	mu.Lock()
	var lastFail, back time.Time
	failed, answered := 0, 0
	for _, r := range results {
		switch {
		case r.at.Before(flushed):
		case !r.ok:
			failed++
			lastFail, back = r.at, time.Time{}
		default:
			answered++
			if back.IsZero() {
				back = r.at
			}
		}
	}
	mu.Unlock()
	if back.IsZero() {
		t.Fatalf("no answer since the last failed request, %v after the flush (%d failed, %d answered)", lastFail.Sub(flushed), failed, answered)
	}
	if d := back.Sub(flushed); d > 5*time.Second {
		t.Fatalf("served again %v after the flush, want within 5 s (%d failed, %d answered)", d, failed, answered)
	}
	t.Logf("flush on %s: served again %v after, %d requests failed, %d answered", owner, back.Sub(flushed).Round(time.Millisecond), failed, answered)
	out, err = node.Exec(context.Background(), "nft", "list", "tables")
	if err != nil || !strings.Contains(string(out), "table inet ironlb\n") {
		t.Fatalf("IronLB's tables not back: %v: %s", err, out)
	}
	if after, err := node.Exec(context.Background(), "nft", "-j", "list", "table", "ip", "firewall"); err != nil || string(after) != string(fw) {
		t.Fatalf("the firewall's table changed: %v\nbefore %s\nafter  %s", err, fw, after)
	}
}
