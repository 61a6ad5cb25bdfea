package vlan

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ctxFor returns a context that ends well before the test's deadline.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// netnsNames lists /run/netns entries that start with prefix.
func netnsNames(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("list %s: %v", netnsDir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestLabPingAndNeighbours(t *testing.T) {
	lab := New(t, Options{Nodes: 3, Router: true})
	t.Log("\n" + lab.Summary())
	if len(lab.Nodes) != 3 || len(lab.Clients) != 1 || lab.Router == nil {
		t.Fatalf("lab has %d nodes, %d clients, router %v; want 3, 1, yes", len(lab.Nodes), len(lab.Clients), lab.Router != nil)
	}
	client := lab.Clients[0]
	ctx := ctxFor(t, 10*time.Second)
	for _, n := range append(lab.Nodes, lab.Router) {
		for _, dst := range []netip.Addr{n.IPv4.Addr(), n.IPv6.Addr()} {
			rtt, err := client.Ping(ctxFor(t, 2*time.Second), dst)
			if err != nil {
				t.Fatalf("client ping %s (%s): %v", dst, n.Name, err)
			}
			t.Logf("client -> %s %s: %v", n.Name, dst, rtt)
		}
	}
	out, err := client.Exec(ctx, "ip", "neigh", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	neigh := string(out)
	for _, n := range lab.Nodes {
		for _, ip := range []string{n.IPv4.Addr().String(), n.IPv6.Addr().String()} {
			want := ip + " lladdr " + n.MAC.String()
			if !strings.Contains(neigh, want) {
				t.Errorf("client's ip neigh lacks %q:\n%s", want, neigh)
			}
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("vlan tests need root (network namespaces): run them as root, e.g. sudo -E go test ./e2e/vlan/")
	}
}

func TestSetLinkDownMakesHostUnreachable(t *testing.T) {
	lab := New(t, Options{Nodes: 2})
	client, node1, node2 := lab.Clients[0], lab.Nodes[0], lab.Nodes[1]
	for _, dst := range []netip.Addr{node1.IPv4.Addr(), node1.IPv6.Addr()} {
		if _, err := client.Ping(ctxFor(t, 2*time.Second), dst); err != nil {
			t.Fatalf("before link down: %v", err)
		}
	}
	if err := node1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []netip.Addr{node1.IPv4.Addr(), node1.IPv6.Addr()} {
		if rtt, err := client.Ping(ctxFor(t, 400*time.Millisecond), dst); err == nil {
			t.Fatalf("ping %s answered in %v with node1's link down", dst, rtt)
		}
	}
	if _, err := client.Ping(ctxFor(t, 2*time.Second), node2.IPv4.Addr()); err != nil {
		t.Fatalf("node2 must stay reachable: %v", err)
	}
	// Like a pulled cable: node1 sees no carrier but keeps its addresses.
	out, err := node1.Exec(ctxFor(t, 2*time.Second), "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Prefix{node1.IPv4, node1.IPv6} {
		if !strings.Contains(string(out), a.String()) {
			t.Errorf("node1 lost %s with its link down:\n%s", a, out)
		}
	}
	if out, err := node1.Exec(ctxFor(t, 2*time.Second), "ip", "link", "show", "dev", "eth0"); err != nil || !strings.Contains(string(out), "NO-CARRIER") {
		t.Errorf("node1's eth0 should report NO-CARRIER (err %v):\n%s", err, out)
	}

	if err := node1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []netip.Addr{node1.IPv4.Addr(), node1.IPv6.Addr()} {
		start := time.Now()
		if _, err := client.Ping(ctxFor(t, 3*time.Second), dst); err != nil {
			t.Fatalf("after link up: %v", err)
		}
		t.Logf("%s answers %v after link up", dst, time.Since(start))
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		opts  Options
		field string
	}{
		{Options{Nodes: -1}, "Options.Nodes"},
		{Options{Nodes: MaxNodes + 1}, "Options.Nodes"},
		{Options{Clients: MaxClients + 1}, "Options.Clients"},
		{Options{ID: "Bad_ID"}, "Options.ID"},
		{Options{ID: "much-too-long-lab-id"}, "Options.ID"},
	}
	for _, tt := range tests {
		_, err := tt.opts.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v: error %v, want one naming %s", tt.opts, err, tt.field)
		}
	}
	got, err := Options{}.withDefaults()
	if err != nil || got.Nodes != 3 || got.Clients != 1 || !idPattern.MatchString(got.ID) {
		t.Errorf("defaults: %+v, %v", got, err)
	}
}

func TestStartFailureRemovesWhatItBuilt(t *testing.T) {
	requireRoot(t)
	ctx := ctxFor(t, 10*time.Second)
	id := "failtest"
	prefix := fmt.Sprintf("%s-%d-%s-", marker, os.Getpid(), id)
	// A namespace in the way of node2 makes Start fail half way, after the
	// LAN, the router and node1 exist.
	blocker := prefix + "node2"
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", blocker).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", blocker, err, out)
	}
	t.Cleanup(func() { _ = deleteNamespace(blocker) })

	lab, err := Start(ctx, Options{Nodes: 3, Router: true, ID: id})
	if err == nil {
		lab.Close()
		t.Fatal("Start succeeded with node2's namespace name taken")
	}
	t.Logf("Start failed as expected: %v", err)
	if got := netnsNames(t, prefix); len(got) != 1 || got[0] != blocker {
		t.Fatalf("after the failed Start, namespaces %v remain; want only the blocker %s", got, blocker)
	}
}
