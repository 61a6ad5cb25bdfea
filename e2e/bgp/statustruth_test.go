package bgp_test

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// What may fail when the announcing speaker is killed. The killed process
// leaves its node's kernel forwarding (every node's datapath serves every
// VIP), so requests fail only when their connection straddles a switch of
// path: the client's neighbour entry moving to the new announcer's MAC
// (gratuitous ARP / unsolicited NA), or the router dropping the dead node's
// next hop and rehashing. Each VIP gets one request at a time, so at most
// one connection is open at a switch: at most handoverFailures per VIP, and
// none sent after handover (liveness holds a speaker dead after 250 ms of
// silence, FRR drops the session when its TCP connection closes).
const (
	handoverFailures = 1
	handover         = 500 * time.Millisecond
)

// TestStatusesFollowDyingSpeakers runs the whole system (nftables
// datapath, layer 2 and BGP dual-stack Services, FRR) under steady client
// traffic to every VIP, kills the speaker that answers ARP for the layer 2
// IPv4 address, then every other speaker. Each time, within 2 s, the
// ServiceL2Status names the node that answers now (then none, with the
// reason) and no BGPSessionStatus of a dead speaker says Established; and
// the traffic does what the statuses say:
//   - announcer killed: every VIP keeps answering; at most one request
//     per VIP fails, sent during the handover (see handover);
//   - every speaker killed: each node's kernel keeps the datapath it was
//     given (a killed process removes nothing), but nothing answers ARP/NDP
//     and FRR drops every route when the sessions' TCP connections close.
//     The BGP VIPs stop answering at once; the layer 2 VIPs go on answering
//     through the last announcer for as long as the client's neighbour entry
//     for them stays confirmed by the traffic itself (the kernel confirms it
//     on every acknowledged TCP segment), although nobody answers ARP/NDP:
//     a client that asks again (arping, or a new client) gets no answer;
//   - one speaker back: every VIP answers again.
func TestStatusesFollowDyingSpeakers(t *testing.T) {
	s := cluster.StartSystem(t, cluster.SystemOptions{})
	c := s.C
	lan, bgpVIPs := s.VIPs["lan"], s.VIPs["bgp"]
	owner := c.WaitForAnnouncer(t, "default", "lan", lan[0].Addr(), func(string) bool { return true })
	waitSessions(t, c, func(st v1beta1.BGPSessionStatusStatus) bool { return st.State == "Established" }, 60*time.Second, "every session Established")
	s.WaitBGPRoutes(t)
	client := c.Lab.Clients[0]
	if mac := arpOwner(t, client, lan[0].Addr()); mac != c.Lab.Host(owner).MAC.String() {
		t.Fatalf("before: %s answers ARP for %s, status says %s (%s)", mac, lan[0].Addr(), owner, c.Lab.Host(owner).MAC)
	}
	traffic := cluster.StartTraffic(t, client, 15*time.Millisecond, time.Second, s.AllVIPs()...)
	time.Sleep(time.Second)
	if n := traffic.Snapshot(); cluster.AnyFailed(n) {
		t.Fatalf("requests failed before any speaker was killed: %+v", n)
	}

	// The announcer dies.
	atKill := traffic.Snapshot()
	killed := time.Now()
	c.Speaker(owner).Kill()
	next := map[netip.Addr]string{}
	cluster.Eventually(t, 2*time.Second, "the layer 2 statuses to name live nodes", func() error {
		for _, vip := range lan {
			st := c.L2Status(t, "default", "lan", vip.Addr())
			if st == nil || st.Status.Node == "" || st.Status.Node == owner {
				return fmt.Errorf("%s: status %+v", vip.Addr(), st)
			}
			next[vip.Addr()] = st.Status.Node
		}
		return nil
	})
	waitSessions(t, c, func(st v1beta1.BGPSessionStatusStatus) bool {
		return (st.Node == owner) != (st.State == "Established")
	}, 2*time.Second-time.Since(killed), owner+"'s sessions not Established, the others Established")
	t.Logf("announcer %s killed: statuses name %v and its sessions are down after %v", owner, next, time.Since(killed).Round(time.Millisecond))
	if mac := arpOwner(t, client, lan[0].Addr()); mac != c.Lab.Host(next[lan[0].Addr()]).MAC.String() {
		t.Fatalf("%s answers ARP for %s, the status says %s (%s)", mac, lan[0].Addr(), next[lan[0].Addr()], c.Lab.Host(next[lan[0].Addr()]).MAC)
	}
	var live []string
	for _, n := range c.Lab.Nodes {
		if n.Name != owner {
			live = append(live, n.Name)
		}
	}
	s.WaitBGPRoutes(t, live...)
	time.Sleep(time.Until(killed.Add(4 * time.Second)))
	for vip, n := range cluster.Since(atKill, traffic.Snapshot()) {
		t.Logf("%s: %d of %d requests failed in the 4 s after announcer %s was killed, sent %v after the kill", vip, n.Failed, n.Sent, owner, cluster.Offsets(n.FailedSent, killed))
		if n.Failed > handoverFailures {
			t.Errorf("%s: %d requests failed after the announcer was killed, want at most %d: %v", vip, n.Failed, handoverFailures, n.LastError)
		}
		if late := slices.IndexFunc(n.FailedSent, func(at time.Time) bool { return at.Sub(killed) > handover }); late >= 0 {
			t.Errorf("%s: a request sent %v after the announcer was killed failed (handover bound %v): %v",
				vip, n.FailedSent[late].Sub(killed).Round(time.Millisecond), handover, n.LastError)
		}
	}

	// Every other speaker dies: nobody is left to write, the controller
	// does.
	atAll := traffic.Snapshot()
	killed = time.Now()
	for _, n := range c.Lab.Nodes {
		if p := c.Speaker(n.Name); p != nil && !p.Exited() {
			p.Kill()
		}
	}
	cluster.Eventually(t, 2*time.Second, "the statuses to say nobody answers", func() error {
		for _, vip := range lan {
			st := c.L2Status(t, "default", "lan", vip.Addr())
			if st == nil || st.Status.Node != "" || st.Status.Reason == "" {
				return fmt.Errorf("%s: status %+v", vip.Addr(), st)
			}
		}
		return nil
	})
	waitSessions(t, c, func(st v1beta1.BGPSessionStatusStatus) bool { return st.State != "Established" },
		2*time.Second-time.Since(killed), "no session Established")
	t.Logf("every speaker killed: statuses corrected after %v", time.Since(killed).Round(time.Millisecond))
	for _, vip := range bgpVIPs {
		waitNextHops(t, s.Router, netip.PrefixFrom(vip.Addr(), vip.Addr().BitLen()), nil)
	}
	// A request is recorded at most a timeout after it was sent: from
	// here on, every request recorded was sent with the routes gone.
	time.Sleep(1100 * time.Millisecond)
	routesGone := traffic.Snapshot()
	if mac := arpOwner(t, client, lan[0].Addr()); mac != "" {
		t.Fatalf("%s still answers ARP for %s with every speaker dead", mac, lan[0].Addr())
	}
	time.Sleep(time.Until(killed.Add(5 * time.Second)))
	end := traffic.Snapshot()
	for vip, n := range cluster.Since(atAll, end) {
		t.Logf("%s: %d of %d requests failed in the 5 s after every speaker was killed, the first sent %v after the kill", vip, n.Failed, n.Sent, cluster.Offsets(n.FailedSent[:min(1, len(n.FailedSent))], killed))
	}
	for vip, n := range cluster.Since(routesGone, end) {
		switch {
		case n.Sent == 0:
			t.Errorf("%s: no request completed with every speaker dead: the traffic did not run", vip)
		case slices.Contains(bgpVIPs, vip) && n.Failed != n.Sent:
			t.Errorf("%s: %d of %d requests answered with no route to it at the router", vip, n.Sent-n.Failed, n.Sent)
		case slices.Contains(lan, vip) && n.Failed > 0:
			t.Errorf("%s: %d of %d requests failed: the last announcer's kernel should still forward for a client that knows its MAC: %v", vip, n.Failed, n.Sent, n.LastError)
		}
	}
	// The layer 2 VIPs answer only for a client that knows the MAC: once
	// the client forgets it, nobody answers ARP/NDP and requests fail, as
	// the statuses say.
	traffic.Stop()
	for _, vip := range lan {
		if out, err := client.Exec(context.Background(), "ip", "neigh", "flush", "to", vip.Addr().String(), "dev", client.Iface); err != nil {
			t.Fatalf("client: flush neighbour %s: %v: %s", vip.Addr(), err, out)
		}
		if err := cluster.Request(context.Background(), client, vip, time.Second); err == nil {
			t.Errorf("%s answered a client without its MAC with every speaker dead", vip)
		}
	}

	// A speaker back: it announces again, says so, and every VIP answers.
	if err := c.StartSpeaker(owner); err != nil {
		t.Fatal(err)
	}
	c.WaitForAnnouncer(t, "default", "lan", lan[0].Addr(), func(n string) bool { return n == owner })
	s.WaitAnswering(t, 30*time.Second)
	traffic = cluster.StartTraffic(t, client, 15*time.Millisecond, time.Second, s.AllVIPs()...)
	time.Sleep(time.Second)
	for vip, n := range traffic.Snapshot() {
		if n.Failed > 0 || n.Sent == 0 {
			t.Errorf("%s with %s's speaker back: %d of %d requests failed: %v", vip, owner, n.Failed, n.Sent, n.LastError)
		}
	}
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
