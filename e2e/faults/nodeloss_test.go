// Package faults_test checks what IronLB does on the worst day, as it
// happens: a node lost is its LAN link going down (a killed process would
// leave its kernel forwarding), with a client sending steady traffic to
// every VIP and counting the requests that fail.
package faults_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestLostNodesPodsGetNoNewConnections loses a node that holds one of the
// pods of a Cluster Service (layer 2, both families), first a node that
// does not announce the VIPs, then the announcing node. Each time, once the
// speakers hold the node dead (a quarter of a second), no node's datapath
// sends it new connections, long before Kubernetes would mark its endpoints
// not ready (here: never), so from then on no request fails. The node comes
// back and serves again.
func TestLostNodesPodsGetNoNewConnections(t *testing.T) {
	s := startLAN(t)
	c, vips, owner := s.c, s.vips, s.owner
	traffic := cluster.StartTraffic(t, s.client, 15*time.Millisecond, time.Second, vips...)
	time.Sleep(time.Second)
	if n := traffic.Snapshot(); cluster.AnyFailed(n) {
		t.Fatalf("requests failed before any fault: %+v", n)
	}

	// The bystander announces neither VIP when a node is left that does;
	// every node holds a pod, so any other node will do otherwise.
	owner6 := c.WaitForAnnouncer(t, "default", "web", vips[1].Addr(), func(string) bool { return true })
	var bystander string
	for _, n := range c.Lab.Nodes {
		if n.Name != owner && (bystander == "" || n.Name != owner6) {
			bystander = n.Name
		}
	}
	for _, lost := range []string{bystander, owner} {
		t.Run("lose "+lost, func(t *testing.T) {
			loseAndReturn(t, c, traffic, vips, lost)
		})
	}
}

// loseAndReturn takes node's LAN link down for 6 s and up again, and checks
// the failed requests: some in the first second (the speakers need a
// quarter of a second to hold it dead, and a request waits a second before
// it counts as failed), none after that, none once it is back.
func loseAndReturn(t *testing.T, c *cluster.Cluster, traffic *cluster.Traffic, vips []netip.AddrPort, node string) {
	h := c.Lab.Host(node)
	atLoss := traffic.Snapshot()
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	time.Sleep(1500 * time.Millisecond)
	settled := traffic.Snapshot()
	// While it is gone (its speaker still reaches the API server and,
	// cut off from the others, thinks it owns everything), no status
	// names it: it answers nothing.
	for end := time.Now().Add(4500 * time.Millisecond); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		for _, vip := range vips {
			if st := c.L2Status(t, "default", "web", vip.Addr()); st != nil && st.Status.Node == node {
				t.Errorf("%s lost for %v: the status of %s still names it", node, time.Since(lost).Round(time.Millisecond), vip.Addr())
			}
		}
	}
	beforeReturn := traffic.Snapshot()
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	time.Sleep(3 * time.Second)
	end := traffic.Snapshot()

	for vip, n := range cluster.Since(atLoss, settled) {
		t.Logf("%s: %d of %d requests failed in the 1.5 s after %s was lost", vip, n.Failed, n.Sent, node)
	}
	for vip, n := range cluster.Since(settled, beforeReturn) {
		if n.Sent < 100 {
			t.Errorf("%s: only %d requests while %s was lost: the traffic did not run", vip, n.Sent, node)
		}
		if n.Failed > 0 {
			t.Errorf("%s: %d of %d requests failed from 1.5 s to 6 s after %s was lost (last failure %v after the loss): %v",
				vip, n.Failed, n.Sent, node, n.LastFailure.Sub(lost).Round(time.Millisecond), n.LastError)
		}
	}
	for vip, n := range cluster.Since(beforeReturn, end) {
		if n.Failed > 1 {
			t.Errorf("%s: %d of %d requests failed in the 3 s after %s came back (last failure %v after): %v",
				vip, n.Failed, n.Sent, node, n.LastFailure.Sub(back).Round(time.Millisecond), n.LastError)
		}
	}
	// Back: its pod serves again.
	pod := "web-" + node
	cluster.Eventually(t, 30*time.Second, pod+" to answer through the VIP again", func() error {
		return answeredBy(c, pod)
	})
}

// answeredBy asks the first VIP of Service default/web until pod answers
// (a few tries: requests are balanced).
func answeredBy(c *cluster.Cluster, pod string) error {
	var svc corev1.Service
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web"}, &svc); err != nil {
		return err
	}
	vip := netip.AddrPortFrom(netip.MustParseAddr(svc.Status.LoadBalancer.Ingress[0].IP), 80)
	return answeredThrough(c.Lab.Clients[0], vip, pod)
}

// answeredThrough asks vip until pod answers (a few tries: requests are
// balanced).
func answeredThrough(client *vlan.Host, vip netip.AddrPort, pod string) error {
	seen := map[string]bool{}
	for range 20 {
		name, err := cluster.Ask(context.Background(), client, vip, time.Second)
		if err != nil {
			return err
		}
		if name == pod {
			return nil
		}
		seen[name] = true
	}
	return fmt.Errorf("answers from %v only", seen)
}
