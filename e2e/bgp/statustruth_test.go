package bgp_test

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestStatusesFollowDyingSpeakers kills the speaker that answers ARP for a
// layer 2 address, then every other speaker: each time, within 2 s, the
// ServiceL2Status names the node that answers now (then none, with the
// reason) and no BGPSessionStatus of a dead speaker says Established.
func TestStatusesFollowDyingSpeakers(t *testing.T) {
	c, _ := bgpCluster(t, false, v1beta1.BGPAdvertisementSpec{})
	c.Create(t, cluster.Pool("lan", "203.0.113.0/25"), cluster.L2("lan", []string{"lan"}, "eth0"))
	c.Create(t, cluster.LoadBalancer("default", "onlink", func(s *corev1.Service) { annotate(s, "ironlb.io/address-pool", "lan") }))
	var eps []cluster.Endpoint
	for i, n := range c.Lab.Nodes {
		eps = append(eps, cluster.Endpoint{Node: n.Name, Addr: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 40+i)), Ready: true})
	}
	c.SetEndpoints(t, "default", "onlink", eps...)
	ip := c.WaitForIPs(t, "default", "onlink", 1)[0]
	owner := c.WaitForAnnouncer(t, "default", "onlink", ip, func(string) bool { return true })
	waitSessions(t, c, func(st v1beta1.BGPSessionStatusStatus) bool { return st.State == "Established" }, 60*time.Second, "every session Established")
	client := c.Lab.Clients[0]
	if mac := arpOwner(t, client, ip); mac != c.Lab.Host(owner).MAC.String() {
		t.Fatalf("before: %s answers ARP for %s, status says %s (%s)", mac, ip, owner, c.Lab.Host(owner).MAC)
	}

	// The announcer dies.
	killed := time.Now()
	c.Speaker(owner).Kill()
	var next string
	cluster.Eventually(t, 2*time.Second, "the status to name another node", func() error {
		st := c.L2Status(t, "default", "onlink", ip)
		if st == nil || st.Status.Node == "" || st.Status.Node == owner {
			return fmt.Errorf("status %+v", st)
		}
		next = st.Status.Node
		return nil
	})
	waitSessions(t, c, func(st v1beta1.BGPSessionStatusStatus) bool {
		return (st.Node == owner) != (st.State == "Established")
	}, 2*time.Second-time.Since(killed), owner+"'s sessions not Established, the others Established")
	t.Logf("announcer %s killed: status names %s and its sessions are down after %v", owner, next, time.Since(killed).Round(time.Millisecond))
	if mac := arpOwner(t, client, ip); mac != c.Lab.Host(next).MAC.String() {
		t.Fatalf("%s answers ARP for %s, the status says %s (%s)", mac, ip, next, c.Lab.Host(next).MAC)
	}

	// Every other speaker dies: nobody is left to write, the controller
	// does.
	killed = time.Now()
	for _, n := range c.Lab.Nodes {
		if p := c.Speaker(n.Name); p != nil && !p.Exited() {
			p.Kill()
		}
	}
	cluster.Eventually(t, 2*time.Second, "the status to say nobody answers", func() error {
		st := c.L2Status(t, "default", "onlink", ip)
		if st == nil || st.Status.Node != "" || st.Status.Reason == "" {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	waitSessions(t, c, func(st v1beta1.BGPSessionStatusStatus) bool { return st.State != "Established" },
		2*time.Second-time.Since(killed), "no session Established")
	t.Logf("every speaker killed: statuses corrected after %v", time.Since(killed).Round(time.Millisecond))
	if mac := arpOwner(t, client, ip); mac != "" {
		t.Fatalf("%s still answers ARP for %s with every speaker dead", mac, ip)
	}

	// A speaker back: it announces again and says so.
	if err := c.StartSpeaker(owner); err != nil {
		t.Fatal(err)
	}
	c.WaitForAnnouncer(t, "default", "onlink", ip, func(n string) bool { return n == owner })
}

// waitSessions waits until every BGPSessionStatus (6: 3 nodes, 2 peers)
// satisfies ok.
func waitSessions(t *testing.T, c *cluster.Cluster, ok func(v1beta1.BGPSessionStatusStatus) bool, timeout time.Duration, what string) {
	t.Helper()
	cluster.Eventually(t, max(timeout, 100*time.Millisecond), what, func() error {
		var list v1beta1.BGPSessionStatusList
		if err := c.Client.List(context.Background(), &list); err != nil {
			return err
		}
		if len(list.Items) != 6 {
			return fmt.Errorf("%d BGPSessionStatus objects, want 6", len(list.Items))
		}
		for _, s := range list.Items {
			if !ok(s.Status) {
				return fmt.Errorf("%s: %s (%s)", s.Name, s.Status.State, s.Status.LastError)
			}
		}
		return nil
	})
}

var macPattern = regexp.MustCompile(`(?i)\b([0-9a-f]{2}(:[0-9a-f]{2}){5})\b`)

// arpOwner asks the LAN who has ip, from the client, and returns the MAC
// that answered ("" when nobody does within a second).
func arpOwner(t *testing.T, h *vlan.Host, ip netip.Addr) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "arping", "-c", "1", "-w", "1", "-i", h.Iface, ip.String())
	if err != nil {
		return "" // arping exits non-zero when nobody answered
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "bytes from") {
			if m := macPattern.FindString(line); m != "" {
				return strings.ToLower(m)
			}
		}
	}
	t.Fatalf("arping answered without a MAC:\n%s", out)
	return ""
}
