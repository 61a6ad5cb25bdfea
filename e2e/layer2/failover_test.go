package layer2_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/pkg/election"
)

// arpProbe makes the client ask for ip every 10 ms, so the capture shows
// who answers at any moment.
func arpProbe(t *testing.T, c *cluster.Cluster, ip netip.Addr) {
	t.Helper()
	stop, err := c.Lab.Clients[0].ProbeNeighbor(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

// failoverService sets up a Service with endpoints everywhere and returns
// its IP and the node announcing it.
func failoverService(t *testing.T, c *cluster.Cluster) (netip.Addr, string) {
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", endpointsOn("node1", "node2", "node3")...)
	ip := c.WaitForIPs(t, "default", "web", 1)[0]
	serveVIP(t, c, ip)
	owner := c.WaitForAnnouncer(t, "default", "web", ip, func(string) bool { return true })
	reach(t, c.Lab.Clients[0], ip)
	return ip, owner
}

// waitForNewAnswerer waits until a MAC other than old answers for ip after
// since, and returns it with the time of its first answer.
func waitForNewAnswerer(t *testing.T, capt *vlan.Capture, ip netip.Addr, old string, since time.Time) (string, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	f, err := capt.WaitFor(ctx, func(f vlan.Frame) bool {
		return f.IsARPReply() && f.ARP.SenderIP == ip && f.Src.String() != old && f.Time.After(since)
	})
	if err != nil {
		t.Fatalf("no other node answered for %s after the kill: %v", ip, err)
	}
	return f.Src.String(), f.Time
}

// electedOf is the node the election picks for ip with every node alive.
func electedOf(c *cluster.Cluster, ip netip.Addr) string {
	var nodes []election.Candidate
	var names []string
	for _, n := range c.Lab.Nodes {
		nodes = append(nodes, election.Candidate{Node: n.Name})
		names = append(names, n.Name)
	}
	return election.Elect([]election.Item{{IP: ip, Eligible: names}}, nodes)[ip]
}

func nodeByMAC(c *cluster.Cluster, mac string) string {
	for _, n := range c.Lab.Nodes {
		if n.MAC.String() == mac {
			return n.Name
		}
	}
	return "unknown MAC " + mac
}

func TestKilledSpeakersAddressesMoveAndNeverHaveTwoAnswerers(t *testing.T) {
	c := l2Cluster(t, cluster.Options{})
	ip, owner := failoverService(t, c)
	capt, err := c.Lab.Capture(context.Background(), func(f vlan.Frame) bool { return f.ARP != nil })
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Stop()
	arpProbe(t, c, ip)

	const rounds = 20
	var failovers []time.Duration
	for round := range rounds {
		oldMAC := macOf(c, owner)
		killed := owner
		killedAt := time.Now()
		c.Speaker(killed).Kill()
		newMAC, at := waitForNewAnswerer(t, capt, ip, oldMAC, killedAt)
		owner = nodeByMAC(c, newMAC)
		failovers = append(failovers, at.Sub(killedAt))
		// The client follows: its kernel now resolves the VIP to the new
		// owner (the gratuitous ARP updated it) and traffic gets through.
		cluster.Eventually(t, 5*time.Second, fmt.Sprintf("round %d: client on %s", round, owner), func() error {
			if got := neighborMAC(t, c.Lab.Clients[0], ip); got != newMAC {
				return errorf("neighbour entry %s", got)
			}
			return nil
		})
		reach(t, c.Lab.Clients[0], ip)
		if err := c.StartSpeaker(killed); err != nil {
			t.Fatal(err)
		}
		// The restarted speaker rejoins, and the election may hand the IP
		// back to it (a hand-over between two live speakers). Start the
		// next round only once that has happened, on the wire too: on a
		// loaded machine a speaker takes a variable time to start.
		owner = electedOf(c, ip)
		c.WaitForAnnouncer(t, "default", "web", ip, func(n string) bool { return n == owner })
		cluster.Eventually(t, 30*time.Second, fmt.Sprintf("round %d: client follows the hand-back to %s", round, owner), func() error {
			if got, want := neighborMAC(t, c.Lab.Clients[0], ip), macOf(c, owner); got != want {
				return errorf("neighbour entry %s, want %s", got, want)
			}
			return nil
		})
	}
	capt.Stop()

	spans := vlan.AnsweringSpans(vlan.Answers(capt.Frames(), ip), 30*time.Millisecond)
	if d, at := vlan.LongestOverlap(spans); d > 100*time.Millisecond {
		t.Errorf("two MACs answered for %s together for %v (from %s)", ip, d, at.Format(time.StampMilli))
	}
	slices.Sort(failovers)
	t.Logf("failover (kill -> first answer from the new node) over %d kills: p50 %v, max %v",
		len(failovers), failovers[len(failovers)/2], failovers[len(failovers)-1])
	if dropped := capt.Dropped(); dropped > 0 {
		t.Errorf("capture dropped %d frames: the overlap check is incomplete", dropped)
	}
	_ = syscall.SIGKILL
}
