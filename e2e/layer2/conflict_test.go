package layer2_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

func TestAnAddressAnotherHostAlreadyUsesIsNotAnnounced(t *testing.T) {
	c := l2Cluster(t, cluster.Options{Clients: 2})
	rogue := c.Lab.Clients[1]
	// A host on the LAN already uses an address of the pool.
	if out, err := rogue.Exec(context.Background(), "ip", "addr", "add", "203.0.113.50/24", "dev", rogue.Iface); err != nil {
		t.Fatalf("rogue address: %v: %s", err, out)
	}
	capt, err := c.Lab.Capture(context.Background(), vlan.NeighborDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Stop()

	c.Create(t, cluster.LoadBalancer("default", "clash", cluster.RequestIP("203.0.113.50")))
	c.SetEndpoints(t, "default", "clash", endpointsOn("node1", "node2", "node3")...)
	ip := c.WaitForIPs(t, "default", "clash", 1)[0]

	var node string
	cluster.Eventually(t, 20*time.Second, "the conflict in the status", func() error {
		st := c.L2Status(t, "default", "clash", ip)
		if st == nil || st.Status.Conflict == nil {
			return errorf("status %+v", st)
		}
		if st.Status.Conflict.MAC != rogue.MAC.String() {
			return errorf("conflict names %s, want the rogue %s", st.Status.Conflict.MAC, rogue.MAC)
		}
		node = st.Status.Node
		return nil
	})
	cluster.Eventually(t, 10*time.Second, "an AddressConflict event", func() error {
		evs := c.Events(t, "Service", "default", "clash", "AddressConflict")
		if len(evs) == 0 || !strings.Contains(evs[0].Message, rogue.MAC.String()) {
			return errorf("events %v", evs)
		}
		return nil
	})

	// The client's kernel keeps resolving the address to the rogue: no
	// node ever answered for it.
	reach(t, c.Lab.Clients[0], ip)
	if got := neighborMAC(t, c.Lab.Clients[0], ip); got != rogue.MAC.String() {
		t.Fatalf("client resolved %s to %s, want the rogue's %s", ip, got, rogue.MAC)
	}
	capt.Stop()
	for _, f := range capt.Frames() {
		if f.IsARPReply() && f.ARP.SenderIP == ip && f.Src.String() != rogue.MAC.String() {
			t.Errorf("%s (%s) answered for the conflicting %s", f.Src, nodeByMAC(c, f.Src.String()), ip)
		}
	}
	t.Logf("conflict detected by %s", node)
}
