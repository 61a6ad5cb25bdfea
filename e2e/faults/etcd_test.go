package faults_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// TestEtcdKilledAndRestarted kills etcd (SIGKILL) under steady traffic to
// every VIP (layer 2 and BGP, both families): every VIP keeps answering;
// losing the node announcing the layer 2 address during the outage still
// fails over in under 500 ms (BGP with BFD drops its next hop); and once
// etcd is back (same data dir) and the API server writes again, no
// announcement moves and no BGP session resets.
func TestEtcdKilledAndRestarted(t *testing.T) {
	s := cluster.StartSystem(t, cluster.SystemOptions{BFD: true})
	c := s.C
	s.WaitSessions(t)
	s.WaitBGPRoutes(t)
	lanVIP := s.VIPs["lan"][0]
	owner := c.WaitForAnnouncer(t, "default", "lan", lanVIP.Addr(), func(string) bool { return true })
	traffic := cluster.StartTraffic(t, c.Lab.Clients[0], 15*time.Millisecond, time.Second, s.AllVIPs()...)
	time.Sleep(time.Second)
	if n := traffic.Snapshot(); cluster.AnyFailed(n) {
		t.Fatalf("requests failed before any fault: %+v", n)
	}

	// Addresses and announcers are read from the API before the outage;
	// the router's routes and sessions during it.
	pre := s.Snapshot(t, s.Services...)
	atKill := traffic.Snapshot()
	restart := c.API.KillEtcd(t)
	killed := time.Now()
	// The outage is real: the API server cannot write.
	if err := writeConfigMap(c, "during-outage", 3*time.Second); err == nil {
		t.Fatal("the API server wrote an object with etcd dead")
	}
	time.Sleep(time.Until(killed.Add(5 * time.Second)))
	for vip, n := range cluster.Since(atKill, traffic.Snapshot()) {
		t.Logf("%s: %d of %d requests failed in the 5 s after etcd was killed", vip, n.Failed, n.Sent)
		if n.Failed > 0 {
			t.Errorf("%s: %d requests failed with etcd dead, sent %v after the kill: %v", vip, n.Failed, cluster.Offsets(n.FailedSent, killed), n.LastError)
		}
	}

	// The layer 2 announcer's link goes down during the outage.
	atLoss := traffic.Snapshot()
	h := c.Lab.Host(owner)
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	t.Cleanup(func() { _ = h.SetLink(true) })
	failover := firstAnswer(t, c.Lab.Clients[0], lanVIP, 50*time.Millisecond, 10*time.Second).Sub(lost)
	t.Logf("announcer %s lost with etcd dead: first answer through the new path after %v", owner, failover.Round(time.Millisecond))
	if failover > 500*time.Millisecond {
		t.Errorf("failover took %v with etcd dead, want < 500 ms", failover)
	}
	time.Sleep(time.Until(lost.Add(1500 * time.Millisecond)))
	settled := traffic.Snapshot()
	for vip, n := range cluster.Since(atLoss, settled) {
		t.Logf("%s: %d of %d requests failed in the 1.5 s after %s was lost", vip, n.Failed, n.Sent, owner)
	}
	// The router has dropped the lost node's next hops (BFD): this is the
	// network that must not change when etcd comes back.
	var others []string
	for _, n := range c.Lab.Nodes {
		if n.Name != owner {
			others = append(others, n.Name)
		}
	}
	s.WaitBGPRoutes(t, others...)
	before := s.Snapshot(t)
	before.IPs = pre.IPs
	onWire := map[netip.AddrPort]string{}
	for _, vip := range s.VIPs["lan"] {
		if onWire[vip] = announcerOnWire(t, c, c.Lab.Clients[0], vip); onWire[vip] == owner {
			t.Errorf("%s still answered by the lost node %s", vip, owner)
		}
	}
	time.Sleep(time.Until(lost.Add(5 * time.Second)))

	restart()
	back := time.Now()
	t.Logf("etcd down for %v", back.Sub(killed).Round(time.Millisecond))
	cluster.Eventually(t, 60*time.Second, "the API server to write again", func() error {
		return writeConfigMap(c, "after-outage", 2*time.Second)
	})
	writable := time.Now()
	t.Logf("API server writes again %v after etcd restarted", writable.Sub(back).Round(time.Millisecond))
	// It lost its Lease in the outage, but campaigns again in its own
	// process rather than exit (and wait out a crash back-off).
	if ctrl := c.Controller(); ctrl.Exited() {
		t.Errorf("the controller exited during the outage; log %s", ctrl.Log)
		if err := c.StartController(); err != nil {
			t.Fatal(err)
		}
	}
	// What answers for the layer 2 addresses on the wire, and the router's
	// routes and sessions, stay as they were during the outage.
	for _, vip := range s.VIPs["lan"] {
		before.Announcer[vip.Addr()] = onWire[vip]
	}
	time.Sleep(time.Until(writable.Add(5 * time.Second)))
	after := s.Snapshot(t, s.Services...)
	for _, vip := range s.VIPs["lan"] {
		after.Announcer[vip.Addr()] = announcerOnWire(t, c, c.Lab.Clients[0], vip)
	}
	if diffs := cluster.SameNetwork(before, after, false, false); len(diffs) > 0 {
		t.Errorf("after etcd came back the network changed:\n%v", diffs)
	}
	// The statuses are only logged: the lost node's speaker still reaches
	// the API server here (its address is not on the LAN), holds itself
	// the only live speaker and may name itself in the status, while the
	// wire, checked above, is answered by another node.
	for _, vip := range s.VIPs["lan"] {
		st := c.L2Status(t, "default", "lan", vip.Addr())
		t.Logf("%s: answered on the wire by %s; status names %q", vip.Addr(), onWire[vip], st.Status.Node)
	}
	for vip, n := range cluster.Since(settled, traffic.Snapshot()) {
		t.Logf("%s: %d of %d requests failed from 1.5 s after the loss to 5 s after the API server wrote again", vip, n.Failed, n.Sent)
		if n.Sent < 100 {
			t.Errorf("%s: only %d requests: the traffic did not run", vip, n.Sent)
		}
		if n.Failed > 0 {
			t.Errorf("%s: %d failed requests, sent %v after the loss (etcd restarted %v after it): %v",
				vip, n.Failed, cluster.Offsets(n.FailedSent, lost), back.Sub(lost).Round(time.Millisecond), n.LastError)
		}
	}
}

// writeConfigMap creates a ConfigMap (a write through to etcd) within
// timeout.
func writeConfigMap(c *cluster.Cluster, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := c.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil // an earlier try, timed out on the client, got through
	}
	return err
}
