package layer2_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
)

func TestLocalPolicyAnnouncesOnlyFromNodesWithALocalEndpoint(t *testing.T) {
	c := l2Cluster(t, cluster.Options{})
	client := c.Lab.Clients[0]
	c.Create(t, cluster.LoadBalancer("default", "local", cluster.Local))
	c.SetEndpoints(t, "default", "local", endpointsOn("node2")...)
	ip := c.WaitForIPs(t, "default", "local", 1)[0]
	serveVIP(t, c, ip)

	is := func(want string) func(string) bool { return func(n string) bool { return n == want } }
	c.WaitForAnnouncer(t, "default", "local", ip, is("node2"))
	reach(t, client, ip)
	if got := neighborMAC(t, client, ip); got != macOf(c, "node2") {
		t.Fatalf("client resolved %s to %s, want node2's %s", ip, got, macOf(c, "node2"))
	}

	// The endpoint moves: so does the announcement, and the client follows
	// without waiting for its neighbour entry to expire.
	c.SetEndpoints(t, "default", "local", endpointsOn("node3")...)
	c.WaitForAnnouncer(t, "default", "local", ip, is("node3"))
	cluster.Eventually(t, 5*time.Second, "the client to follow to node3", func() error {
		reach(t, client, ip)
		if got := neighborMAC(t, client, ip); got != macOf(c, "node3") {
			return errorf("neighbour entry still %s", got)
		}
		return nil
	})

	// No endpoint left: nobody announces, and the status says why.
	c.SetEndpoints(t, "default", "local")
	cluster.Eventually(t, 10*time.Second, "the announcement to be withdrawn", func() error {
		st := c.L2Status(t, "default", "local", ip)
		if st == nil || st.Status.Node != "" || !strings.Contains(st.Status.Reason, "no ready endpoint") {
			return errorf("status %+v", st)
		}
		return nil
	})
	// The event follows the status write through the event broadcaster.
	cluster.Eventually(t, 10*time.Second, "an L2Withdrawn event", func() error {
		if evs := c.Events(t, "Service", "default", "local", "L2Withdrawn"); len(evs) == 0 {
			return errorf("none yet")
		}
		return nil
	})
}
