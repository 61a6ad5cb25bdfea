// Package reach_test breaks a working layer 2 Service for real, one cause
// at a time, and checks that the announcing speaker's reachability
// self-check reports it within 10 s (the Answering condition of the
// ServiceL2Status, a VIPNotAnswering event, `ironlbctl status` and `why`)
// and clears the report once the Service answers again.
package reach_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/ironlbctl/status"
	"github.com/ironlb/ironlb/ironlbctl/why"
)

// reportBound is the promise: announced but not answering is
// reported within 10 s.
const reportBound = 10 * time.Second

type lab struct {
	c     *cluster.Cluster
	vip   netip.Addr
	owner string
}

func TestAnnouncedButNotAnswering(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Datapath: "nftables", Clients: 2, ControllerArgs: []string{"-ip-mode", "Proxy"}})
	c.Create(t, cluster.Pool("lan", "203.0.113.0/24"), cluster.L2("lan", []string{"lan"}, "eth0"))
	ctx := context.Background()
	client := c.Lab.Clients[0]
	if out, err := client.Exec(ctx, "ip", "route", "add", "203.0.113.0/24", "dev", client.Iface); err != nil {
		t.Fatalf("client route: %v: %s", err, out)
	}
	// A node connects to the VIP from its own network namespace: like any
	// real node it needs a route that covers the address (a default
	// route), or its kernel refuses the connection before the datapath
	// sees it.
	for _, n := range c.Lab.Nodes {
		if out, err := n.Exec(ctx, "ip", "route", "add", "default", "dev", n.Iface); err != nil {
			t.Fatalf("%s default route: %v: %s", n.Name, err, out)
		}
	}
	podCtx, stopPod := context.WithCancel(ctx)
	defer stopPod()
	pod, err := c.StartPodProcess(podCtx, "node1", "web-a")
	if err != nil {
		t.Fatal(err)
	}
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pod)...)
	l := lab{c: c}
	l.vip = c.WaitForIPs(t, "default", "web", 1)[0]
	l.owner = c.WaitForAnnouncer(t, "default", "web", l.vip, func(string) bool { return true })
	l.waitAnswering(t, 30*time.Second, "True", "Answering", "answers on tcp/80 (not checked: udp/53)")
	l.clientReaches(t, true)

	top := t
	t.Run("server stopped", func(t *testing.T) {
		broken := time.Now()
		stopPod() // the pod stays Ready in its EndpointSlice; its server is gone
		took := l.waitAnswering(t, reportBound, "False", "NotAnswering", "tcp/80: connection refused")
		t.Logf("server stopped: reported after %v", took.Round(time.Millisecond))
		l.clientReaches(t, false)
		l.waitEvent(t, "VIPNotAnswering", "tcp/80: connection refused", broken)
		l.ironlbctl(t, "NO", why.NotAnswering, "connection refused")

		restored := serveAgain(t, top, pod)
		took = l.waitAnswering(t, reportBound, "True", "Answering", "answers on tcp/80")
		t.Logf("server back: cleared after %v", took.Round(time.Millisecond))
		l.waitEvent(t, "VIPAnswering", "answers on tcp/80", restored)
		l.ironlbctl(t, "yes", why.Announced, "announced in layer 2")
	})

	t.Run("datapath rule deleted", func(t *testing.T) {
		node := c.Lab.Host(l.owner)
		table, chain := serviceChain(t, node, l.vip)
		// The datapath's drift repair rewrites the emptied chain (it
		// compares every chain's rule count with what it programmed):
		// the client is served again without any change to the Service.
		if out, err := node.Exec(ctx, "nft", "flush", "chain", "inet", table, chain); err != nil {
			t.Fatalf("nft flush chain inet %s %s: %v: %s", table, chain, err, out)
		}
		flushed := time.Now()
		l.clientReaches(t, true)
		t.Logf("datapath rule deleted on %s: served again after %v", l.owner, time.Since(flushed).Round(time.Millisecond))
		// Served because the chain was repaired (an emptied chain refuses).
		cluster.Eventually(t, 5*time.Second, "the speaker's log of the repair", func() error {
			b, err := os.ReadFile(c.Speaker(l.owner).Log)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "repairing them") && strings.Contains(line, table+"/"+chain) {
					return nil
				}
			}
			return fmt.Errorf("no repair of %s/%s logged", table, chain)
		})
		l.waitAnswering(t, reportBound, "True", "Answering", "answers on tcp/80")
	})

	t.Run("foreign firewall rule", func(t *testing.T) {
		// A rule in a table IronLB does not own (a host firewall) rejects
		// the VIP's port before the datapath sees it: the datapath's
		// rules are intact, only the check finds it.
		node := c.Lab.Host(l.owner)
		broken := time.Now()
		unblock := blockPort(t, node, l.vip, 80)
		took := l.waitAnswering(t, reportBound, "False", "NotAnswering", "tcp/80: connection refused")
		t.Logf("foreign firewall rule on %s: reported after %v", l.owner, took.Round(time.Millisecond))
		l.clientReaches(t, false)
		l.waitEvent(t, "VIPNotAnswering", "connection refused", broken)
		l.ironlbctl(t, "NO", why.NotAnswering, "connection refused")

		unblock()
		took = l.waitAnswering(t, reportBound, "True", "Answering", "answers on tcp/80")
		t.Logf("foreign firewall rule removed: cleared after %v", took.Round(time.Millisecond))
		l.clientReaches(t, true)
	})

	t.Run("conflicting host", func(t *testing.T) {
		rogue := c.Lab.Clients[1]
		broken := time.Now()
		// The host takes the address silently: no gratuitous ARP; it only
		// answers who asks.
		if out, err := rogue.Exec(ctx, "ip", "addr", "add", l.vip.String()+"/32", "dev", rogue.Iface); err != nil {
			t.Fatalf("rogue address: %v: %s", err, out)
		}
		took := l.waitAnswering(t, reportBound, "False", "AddressConflict", "another host (MAC "+rogue.MAC.String()+")")
		t.Logf("conflicting host: reported after %v", took.Round(time.Millisecond))
		l.waitEvent(t, "VIPNotAnswering", rogue.MAC.String(), broken)
		l.ironlbctl(t, "NO", why.AddressConflict, rogue.MAC.String())

		if out, err := rogue.Exec(ctx, "ip", "addr", "del", l.vip.String()+"/32", "dev", rogue.Iface); err != nil {
			t.Fatalf("rogue address: %v: %s", err, out)
		}
		// The speaker probes an address in conflict again every 10 s.
		took = l.waitAnswering(t, 10*time.Second+reportBound, "True", "Answering", "answers on tcp/80")
		t.Logf("conflicting host gone: cleared after %v", took.Round(time.Millisecond))
		l.clientReaches(t, true)
	})
}

// waitAnswering waits until the Answering condition of the VIP's
// ServiceL2Status has status and reason and its message contains msg, and
// returns how long that took.
func (l lab) waitAnswering(t *testing.T, timeout time.Duration, st metav1.ConditionStatus, reason, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	cluster.Eventually(t, timeout, fmt.Sprintf("Answering=%s (%s) %q", st, reason, msg), func() error {
		s := l.c.L2Status(t, "default", "web", l.vip)
		if s == nil {
			return fmt.Errorf("no ServiceL2Status")
		}
		c := meta.FindStatusCondition(s.Status.Conditions, "Answering")
		if c == nil || c.Status != st || c.Reason != reason || !strings.Contains(c.Message, msg) {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	return time.Since(start)
}

// waitEvent waits for an event on the Service with reason, sent after
// since, whose message contains msg.
func (l lab) waitEvent(t *testing.T, reason, msg string, since time.Time) {
	t.Helper()
	waitServiceEvent(t, l.c, "web", reason, msg, since)
}

// waitServiceEvent waits for an event on the Service default/svc with
// reason, sent after since, whose message contains msg.
func waitServiceEvent(t *testing.T, c *cluster.Cluster, svc, reason, msg string, since time.Time) {
	t.Helper()
	cluster.Eventually(t, 5*time.Second, "a "+reason+" event on "+svc, func() error {
		evs := c.Events(t, "Service", "default", svc, reason)
		for _, ev := range evs {
			last := ev.LastTimestamp.Time
			if last.IsZero() {
				last = ev.EventTime.Time
			}
			if strings.Contains(ev.Message, msg) && !last.Before(since.Truncate(time.Second)) {
				return nil
			}
		}
		return fmt.Errorf("events %+v", evs)
	})
}

// ironlbctl runs what `ironlbctl status` and `ironlbctl why default/web`
// run, on a snapshot of the API server.
func (l lab) ironlbctl(t *testing.T, answering string, code why.Code, msg string) {
	t.Helper()
	snap, err := snapshot.Fetch(context.Background(), l.c.Client, "ironlb-system")
	if err != nil {
		t.Fatal(err)
	}
	r := status.Build(snap, why.Options{}.Handles)
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range r.Services {
		if row.Service == "default/web" && row.IP == l.vip.String() {
			found = true
			if row.Answering != answering {
				t.Errorf("ironlbctl status: ANSWERING %q, want %q:\n%s", row.Answering, answering, buf.String())
			}
		}
	}
	if !found {
		t.Errorf("ironlbctl status has no row for default/web %s:\n%s", l.vip, buf.String())
	}
	reasons := why.Explain(snap, "default", "web", why.Options{})
	for _, rs := range reasons {
		if rs.Code == code && strings.Contains(rs.Message, msg) {
			return
		}
	}
	t.Errorf("ironlbctl why default/web: %+v, want %s naming %q", reasons, code, msg)
}

// clientReaches checks what the report claims against a client on the LAN.
func (l lab) clientReaches(t *testing.T, want bool) {
	t.Helper()
	client := l.c.Lab.Clients[0]
	cluster.Eventually(t, 10*time.Second, fmt.Sprintf("the client's connection to work=%v", want), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := client.DialContext(ctx, "tcp", netip.AddrPortFrom(l.vip, 80).String())
		if err == nil {
			conn.Close()
		}
		if (err == nil) != want {
			return fmt.Errorf("dial: %v", err)
		}
		return nil
	})
}

// serviceChain finds the nftables table and chain of the VIP's TCP 80
// virtual service on node.
func serviceChain(t *testing.T, node *vlan.Host, vip netip.Addr) (string, string) {
	t.Helper()
	out, err := node.Exec(context.Background(), "nft", "-j", "list", "chains", "inet")
	if err != nil {
		t.Fatalf("nft list chains: %v: %s", err, out)
	}
	var dump struct {
		Nftables []struct {
			Chain *struct {
				Table string `json:"table"`
				Name  string `json:"name"`
			} `json:"chain"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &dump); err != nil {
		t.Fatalf("nft -j: %v", err)
	}
	want := "svc4-" + vip.String() + "-tcp-80"
	for _, o := range dump.Nftables {
		if o.Chain != nil && o.Chain.Name == want {
			return o.Chain.Table, o.Chain.Name
		}
	}
	t.Fatalf("no chain %s on %s:\n%s", want, node.Name, out)
	return "", ""
}

// blockPort adds, on node, a table IronLB does not own that rejects TCP
// connections to vip:port from the node itself (output hook, with a reset:
// "connection refused") and drops them from elsewhere (prerouting, before
// any DNAT). The returned function removes it; so does the test's end.
func blockPort(t *testing.T, node *vlan.Host, vip netip.Addr, port int) (remove func()) {
	t.Helper()
	family := "ip"
	if vip.Is6() {
		family = "ip6"
	}
	const table = "reach-test-firewall"
	rules := fmt.Sprintf(`table inet %[1]s {
	chain out {
		type filter hook output priority -300;
		%[2]s daddr %[3]s tcp dport %[4]d reject with tcp reset
	}
	chain pre {
		type filter hook prerouting priority -300;
		%[2]s daddr %[3]s tcp dport %[4]d drop
	}
}
`, table, family, vip, port)
	file := filepath.Join(t.TempDir(), "firewall.nft")
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := node.Exec(context.Background(), "nft", "-f", file); err != nil {
		t.Fatalf("nft -f %s on %s: %v: %s", file, node.Name, err, out)
	}
	removed := false
	remove = func() {
		if removed {
			return
		}
		removed = true
		if out, err := node.Exec(context.Background(), "nft", "delete", "table", "inet", table); err != nil {
			t.Errorf("nft delete table inet %s on %s: %v: %s", table, node.Name, err, out)
		}
	}
	t.Cleanup(remove)
	return remove
}

// serveAgain starts the pod's server again on port 8080, serving until the
// whole test (top) ends, not only the subtest t, and returns when.
func serveAgain(t, top *testing.T, pod *cluster.Pod) time.Time {
	t.Helper()
	ln, err := pod.Host.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	top.Cleanup(func() { ln.Close() })
	go acceptAll(ln)
	return time.Now()
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
