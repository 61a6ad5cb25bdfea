package layer2

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// These tests run Announcers inside the namespaces of a virtual LAN (see
// package vlan) and watch real kernels resolve, and a capture on the LAN
// bridge, to check what goes over the wire.

var (
	labVIP4   = netip.MustParseAddr("203.0.113.10")
	labVIP6   = netip.MustParseAddr("2001:db8:300::10")
	labVIP4b  = netip.MustParseAddr("203.0.113.12")
	labVIP6b  = netip.MustParseAddr("2001:db8:300::12")
	labFree4  = netip.MustParseAddr("203.0.113.11") // claimed by nobody
	labFree6  = netip.MustParseAddr("2001:db8:300::11")
	labTaken4 = netip.MustParseAddr("203.0.113.20") // configured on a host
	labTaken6 = netip.MustParseAddr("2001:db8:300::20")
)

func claims(probe bool, iface string, ips ...netip.Addr) []Claim {
	var out []Claim
	for _, ip := range ips {
		out = append(out, Claim{IP: ip, Interfaces: []string{iface}, Probe: probe})
	}
	return out
}

func setClaims(t testing.TB, n *labNode, cs []Claim) {
	t.Helper()
	if err := n.a.SetClaims(cs); err != nil {
		t.Fatalf("%s: SetClaims: %v", n.h.Name, err)
	}
}

func labCapture(t testing.TB, lab *vlan.Lab) *vlan.Capture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := lab.Capture(ctx, vlan.NeighborDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A client's kernel resolves claimed IPs to the claiming node, the node
// joins the solicited-node group, and nobody answers for an unclaimed IP.
func TestLabClientResolvesClaimedIPs(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 2, Clients: 1})
	client := lab.Clients[0]
	addVIPRoutes(t, client)
	capture := labCapture(t, lab)
	n1 := startNode(t, lab.Nodes[0], Options{})
	n2 := startNode(t, lab.Nodes[1], Options{})
	setClaims(t, n1, claims(false, "eth0", labVIP4, labVIP6))
	setClaims(t, n2, claims(false, "eth0", labVIP4b, labVIP6b))
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		waitPhase(t, n1, ip, "eth0", PhaseAnnounced)
	}
	for _, ip := range []netip.Addr{labVIP4b, labVIP6b} {
		waitPhase(t, n2, ip, "eth0", PhaseAnnounced)
	}

	// The kernel of the client resolves each VIP to its node.
	for _, c := range []struct {
		ip   netip.Addr
		node *vlan.Host
	}{{labVIP4, n1.h}, {labVIP6, n1.h}, {labVIP4b, n2.h}, {labVIP6b, n2.h}} {
		poke(t, client, c.ip)
		waitNeigh(t, client, c.ip, c.node.MAC)
	}

	// The node has joined the solicited-node group of its IPv6 VIP.
	out, err := n1.h.Exec(context.Background(), "cat", "/proc/net/igmp6")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "ff0200000000000000000001ff000010") {
		t.Errorf("node1 has not joined ff02::1:ff00:10:\n%s", out)
	}

	// Ask for the unclaimed IPs first, then for the claimed ones: each
	// node reads its socket in order, so once both nodes have answered
	// for their own IPs they have seen (and ignored) the other questions.
	w := openWire(t, client, "eth0", client.IPv4.Addr(), client.IPv6.Addr())
	since := time.Now()
	for _, ip := range []netip.Addr{labFree4, labFree6, labVIP4, labVIP6, labVIP4b, labVIP6b} {
		w.ask(t, ip)
	}
	for _, c := range []struct {
		port string
		ip   netip.Addr
	}{{"node1", labVIP4}, {"node1", labVIP6}, {"node2", labVIP4b}, {"node2", labVIP6b}} {
		waitCaptured(t, capture, c.port+" answers for "+c.ip.String(), answeredBy(c.port, c.ip, since))
	}
	frames := capture.Stop()
	for _, ip := range []netip.Addr{labFree4, labFree6} {
		if got := answersFor(frames, ip, time.Time{}); len(got) != 0 {
			t.Errorf("answers for unclaimed %s: %v", ip, got)
		}
	}
	// Node1 answered only for its own IPs, and only from eth0's MAC.
	for _, ip := range []netip.Addr{labVIP4b, labVIP6b} {
		for _, a := range answersFor(frames, ip, time.Time{}) {
			if strings.HasPrefix(a, "node1 ") {
				t.Errorf("node1 answered for node2's %s: %s", ip, a)
			}
		}
	}
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		for _, a := range answersFor(frames, ip, time.Time{}) {
			if a != "node1 "+n1.h.MAC.String() && a != "node1 "+n1.h.MAC.String()+" (gratuitous)" {
				t.Errorf("unexpected answer for %s: %s", ip, a)
			}
		}
	}

	// The counters move just after the frames go out: wait for them.
	eventually(t, "node1 counted requests and replies", func() error {
		for _, p := range []string{"arp", "ndp"} {
			r := testutil.ToFloat64(n1.a.metrics.requests.WithLabelValues(p))
			a := testutil.ToFloat64(n1.a.metrics.replies.WithLabelValues(p))
			if r < 1 || a < 1 {
				return fmt.Errorf("%s: requests_received_total %v, replies_sent_total %v", p, r, a)
			}
		}
		return nil
	})
	// The burst: 3 rounds of a request and a reply per IPv4 address, 3
	// advertisements per IPv6 address.
	eventually(t, "node1 sent its gratuitous bursts", func() error {
		arp := testutil.ToFloat64(n1.a.metrics.gratuitous.WithLabelValues("arp"))
		ndp := testutil.ToFloat64(n1.a.metrics.gratuitous.WithLabelValues("ndp"))
		if arp != 6 || ndp != 3 {
			return fmt.Errorf("gratuitous_sent_total arp=%v ndp=%v, want 6 and 3", arp, ndp)
		}
		return nil
	})
	if got := testutil.ToFloat64(n1.a.metrics.announced); got != 2 {
		t.Errorf("node1 announced_ips = %v, want 2", got)
	}
}

// Moving a claim from node1 to node2 moves the client's neighbour entries
// at once (gratuitous ARP, unsolicited NA with Override), and node1 stops
// answering.
func TestLabMoveClaim(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 2, Clients: 1})
	client := lab.Clients[0]
	addVIPRoutes(t, client)
	capture := labCapture(t, lab)
	n1 := startNode(t, lab.Nodes[0], Options{})
	n2 := startNode(t, lab.Nodes[1], Options{})
	// node2 holds another IP so that its sockets are open, as on a real
	// cluster; the cold case is covered by the benchmark.
	setClaims(t, n2, claims(false, "eth0", labVIP4b))
	setClaims(t, n1, claims(true, "eth0", labVIP4, labVIP6))
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		waitPhase(t, n1, ip, "eth0", PhaseAnnounced)
		poke(t, client, ip)
		waitNeigh(t, client, ip, n1.h.MAC)
	}

	ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
	defer cancel()
	if err := n1.a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	if st := n1.a.State(); len(st) != 0 {
		t.Fatalf("node1 state after Release: %+v", st)
	}
	setClaims(t, n2, append(claims(false, "eth0", labVIP4b), claims(false, "eth0", labVIP4, labVIP6)...))
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		waitNeigh(t, client, ip, n2.h.MAC) // no traffic from the client: only the gratuitous frames
	}
	t.Logf("client's neighbour entries moved to node2 %v after node1's release", time.Since(released))

	// Fresh questions are answered by node2 only.
	w := openWire(t, client, "eth0", client.IPv4.Addr(), client.IPv6.Addr())
	asked := time.Now()
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		w.ask(t, ip)
	}
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		waitCaptured(t, capture, "node2 answers for "+ip.String(), answeredBy("node2", ip, asked))
	}
	// node1 has its sockets closed by now; ask node1's own socket anyway by
	// giving it another claim, and check it still ignores the moved IPs.
	setClaims(t, n1, claims(false, "eth0", labFree4, labFree6))
	waitPhase(t, n1, labFree4, "eth0", PhaseAnnounced)
	waitPhase(t, n1, labFree6, "eth0", PhaseAnnounced)
	asked2 := time.Now()
	for _, ip := range []netip.Addr{labVIP4, labVIP6, labFree4, labFree6} {
		w.ask(t, ip)
	}
	waitCaptured(t, capture, "node1 answers for its new IP", answeredBy("node1", labFree4, asked2))
	waitCaptured(t, capture, "node1 answers for its new IPv6", answeredBy("node1", labFree6, asked2))
	frames := capture.Stop()
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		for _, a := range answersFor(frames, ip, released) {
			if strings.HasPrefix(a, "node1 ") {
				t.Errorf("node1 still answers for %s after Release: %s", ip, a)
			}
		}
		if !slices.ContainsFunc(answersFor(frames, ip, released), func(s string) bool { return strings.HasSuffix(s, "(gratuitous)") || strings.HasPrefix(s, "node2 ") }) {
			t.Errorf("no announcement of %s by node2 captured", ip)
		}
	}
}

// A probe finds a host that already uses the IP: the IP is not announced
// and a conflict is reported; speakers' MACs are not conflicts; once the
// host gives the IP up, the retry announces it and reports the end.
func TestLabProbeConflict(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 3, Clients: 1})
	rogue := lab.Nodes[2] // not a speaker here: just a host with the VIPs configured
	ctx := context.Background()
	for _, args := range [][]string{
		{"addr", "add", labTaken4.String() + "/32", "dev", "eth0"},
		{"-6", "addr", "add", labTaken6.String() + "/128", "dev", "eth0", "nodad"},
	} {
		if _, err := rogue.Exec(ctx, "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	capture := labCapture(t, lab)
	speakers := func() map[string]bool {
		return map[string]bool{lab.Nodes[0].MAC.String(): true, lab.Nodes[1].MAC.String(): true}
	}
	n1 := startNode(t, lab.Nodes[0], Options{FriendlyMACs: speakers, ConflictRetryInterval: 300 * time.Millisecond})
	started := time.Now()
	setClaims(t, n1, claims(true, "eth0", labTaken4, labTaken6))

	got := map[netip.Addr]Conflict{}
	for len(got) < 2 {
		select {
		case c := <-n1.a.Conflicts():
			if c.Cleared {
				t.Fatalf("unexpected end of conflict %+v", c)
			}
			got[c.IP] = c
		case <-time.After(labTimeout):
			t.Fatalf("conflicts reported: %+v, want both IPs", got)
		}
	}
	for _, ip := range []netip.Addr{labTaken4, labTaken6} {
		c := got[ip]
		if c.Interface != "eth0" || c.MAC.String() != rogue.MAC.String() {
			t.Errorf("conflict for %s: %+v, want eth0 and %s", ip, c, rogue.MAC)
		}
		st, _ := phaseOf(n1.a, ip, "eth0")
		if st.Phase != PhaseConflict && st.Phase != PhaseProbing {
			t.Errorf("%s on eth0: %+v, want Conflict", ip, st)
		}
		if st.Conflict == nil || st.Conflict.MAC.String() != rogue.MAC.String() {
			t.Errorf("%s: State has conflict %+v", ip, st.Conflict)
		}
	}
	if v := testutil.ToFloat64(n1.a.metrics.conflicts); v != 2 {
		t.Errorf("conflicts_total = %v, want 2", v)
	}

	// A speaker that counts the rogue's MAC as friendly announces anyway.
	n2 := startNode(t, lab.Nodes[1], Options{FriendlyMACs: func() map[string]bool {
		return map[string]bool{strings.ToUpper(rogue.MAC.String()): true}
	}})
	setClaims(t, n2, claims(true, "eth0", labTaken4, labTaken6))
	waitPhase(t, n2, labTaken4, "eth0", PhaseAnnounced)
	waitPhase(t, n2, labTaken6, "eth0", PhaseAnnounced)
	select {
	case c := <-n2.a.Conflicts():
		t.Fatalf("node2 reported %+v for a friendly MAC", c)
	default:
	}
	if err := n2.a.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// node1 stayed silent for the taken IPs all along.
	frames := capture.Frames()
	for _, ip := range []netip.Addr{labTaken4, labTaken6} {
		for _, a := range answersFor(frames, ip, started) {
			if strings.HasPrefix(a, "node1 ") {
				t.Errorf("node1 announced %s despite the conflict: %s", ip, a)
			}
		}
	}
	for _, p := range []string{"arp", "ndp"} {
		if n := testutil.ToFloat64(n1.a.metrics.probes.WithLabelValues(p)); n < 1 {
			t.Errorf("probes_sent_total{proto=%s} = %v", p, n)
		}
	}

	// The host gives the IPs up: the next retry finds nobody.
	for _, args := range [][]string{
		{"addr", "del", labTaken4.String() + "/32", "dev", "eth0"},
		{"-6", "addr", "del", labTaken6.String() + "/128", "dev", "eth0"},
	} {
		if _, err := rogue.Exec(ctx, "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	cleared := map[netip.Addr]bool{}
	for len(cleared) < 2 {
		select {
		case c := <-n1.a.Conflicts():
			if c.Cleared {
				cleared[c.IP] = true
			}
		case <-time.After(labTimeout):
			t.Fatalf("conflicts cleared: %v, want both", cleared)
		}
	}
	waitPhase(t, n1, labTaken4, "eth0", PhaseAnnounced)
	waitPhase(t, n1, labTaken6, "eth0", PhaseAnnounced)
}

// A host that starts claiming an IP we announce (gratuitous ARP, unsolicited
// NA) puts it in conflict: we stop answering and report it.
func TestLabConflictWhileAnnounced(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 2, Clients: 1})
	client := lab.Clients[0]
	capture := labCapture(t, lab)
	n1 := startNode(t, lab.Nodes[0], Options{ConflictRetryInterval: -1})
	setClaims(t, n1, claims(false, "eth0", labVIP4, labVIP6, labVIP4b))
	for _, ip := range []netip.Addr{labVIP4, labVIP6, labVIP4b} {
		waitPhase(t, n1, ip, "eth0", PhaseAnnounced)
	}
	rogue := openWire(t, lab.Nodes[1], "eth0", lab.Nodes[1].IPv4.Addr(), lab.Nodes[1].IPv6.Addr())
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		rogue.claim(t, ip)
	}
	for range 2 {
		select {
		case c := <-n1.a.Conflicts():
			if c.MAC.String() != lab.Nodes[1].MAC.String() || c.Cleared {
				t.Errorf("conflict %+v, want one with node2's MAC", c)
			}
		case <-time.After(labTimeout):
			t.Fatal("no conflict reported")
		}
	}
	waitPhase(t, n1, labVIP4, "eth0", PhaseConflict)
	waitPhase(t, n1, labVIP6, "eth0", PhaseConflict)

	// Questions for the conflicting IPs go unanswered; the other IP still
	// works (and proves the questions before it were read).
	w := openWire(t, client, "eth0", client.IPv4.Addr(), client.IPv6.Addr())
	asked := time.Now()
	for _, ip := range []netip.Addr{labVIP4, labVIP6, labVIP4b} {
		w.ask(t, ip)
	}
	waitCaptured(t, capture, "node1 answers for the unaffected IP", answeredBy("node1", labVIP4b, asked))
	frames := capture.Stop()
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		for _, a := range answersFor(frames, ip, asked) {
			if strings.HasPrefix(a, "node1 ") {
				t.Errorf("node1 answered for %s in conflict: %s", ip, a)
			}
		}
	}
	// Withdrawing the claim ends the conflict; claiming again announces.
	setClaims(t, n1, claims(false, "eth0", labVIP4b))
	for range 2 {
		select {
		case c := <-n1.a.Conflicts():
			if !c.Cleared {
				t.Errorf("event %+v, want the end of the conflict", c)
			}
		case <-time.After(labTimeout):
			t.Fatal("withdrawing did not clear the conflicts")
		}
	}
	setClaims(t, n1, claims(false, "eth0", labVIP4, labVIP6, labVIP4b))
	waitPhase(t, n1, labVIP4, "eth0", PhaseAnnounced)
	waitPhase(t, n1, labVIP6, "eth0", PhaseAnnounced)
}

// Interfaces that do not exist yet are waited for, answered on once they
// appear (and only there), and again after being re-created; sockets exist
// only while something is claimed; Run stops everything.
func TestLabInterfacesComeAndGo(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 1, Clients: 1})
	node, client := lab.Nodes[0], lab.Clients[0]
	capture := labCapture(t, lab)
	n := startNode(t, node, Options{InterfacePollInterval: 50 * time.Millisecond})
	// labVIP4/6 only on eth1 (missing); labVIP4b on eth0 as the control.
	cs := append(claims(false, "eth1", labVIP4, labVIP6), claims(false, "eth0", labVIP4b)...)
	setClaims(t, n, cs)
	st := waitPhase(t, n, labVIP4, "eth1", PhaseWaiting)
	if !strings.Contains(st.Error, "not found") {
		t.Errorf("waiting for eth1 with error %q, want it to say the interface is missing", st.Error)
	}
	waitPhase(t, n, labVIP4b, "eth0", PhaseAnnounced)

	ctx := context.Background()
	addEth1 := func() {
		t.Helper()
		for _, args := range [][]string{
			{"link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"},
			{"link", "set", "eth1p", "up"},
			{"link", "set", "eth1", "up"},
		} {
			if _, err := node.Exec(ctx, "ip", args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	addEth1()
	waitPhase(t, n, labVIP4, "eth1", PhaseAnnounced)
	waitPhase(t, n, labVIP6, "eth1", PhaseAnnounced)
	// From the other end of eth1, the VIPs resolve to eth1's MAC.
	peer := openWire(t, node, "eth1p", netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("2001:db8:ff::200"))
	eth1MAC := func() string {
		out, err := node.Exec(ctx, "cat", "/sys/class/net/eth1/address")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		deadline := time.Now().Add(labTimeout)
		peer.ask(t, ip)
		mac, err := peer.answer(ip, deadline)
		if err != nil {
			t.Fatal(err)
		}
		if want := eth1MAC(); mac.String() != want {
			t.Errorf("%s resolved to %s on eth1, want eth1's %s", ip, mac, want)
		}
	}

	// On the LAN (eth0), where they are not claimed, nobody answers.
	w := openWire(t, client, "eth0", client.IPv4.Addr(), client.IPv6.Addr())
	asked := time.Now()
	for _, ip := range []netip.Addr{labVIP4, labVIP6, labVIP4b} {
		w.ask(t, ip)
	}
	waitCaptured(t, capture, "node1 answers for the control IP", answeredBy("node1", labVIP4b, asked))
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		if a := answersFor(capture.Frames(), ip, time.Time{}); len(a) != 0 {
			t.Errorf("answers for %s on the LAN, where it is not claimed: %v", ip, a)
		}
	}

	// eth1 goes away and comes back as a new interface.
	if _, err := node.Exec(ctx, "ip", "link", "del", "eth1"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, n, labVIP4, "eth1", PhaseWaiting)
	addEth1()
	waitPhase(t, n, labVIP4, "eth1", PhaseAnnounced)
	peer2 := openWire(t, node, "eth1p", netip.MustParseAddr("192.0.2.200"), netip.MustParseAddr("2001:db8:ff::200"))
	peer2.ask(t, labVIP4)
	if mac, err := peer2.answer(labVIP4, time.Now().Add(labTimeout)); err != nil || mac.String() != eth1MAC() {
		t.Fatalf("after re-creating eth1: answer %v, %v; want eth1's %s", mac, err, eth1MAC())
	}

	// Sockets: ARP+NDP+membership on eth1, ARP on eth0.
	if got := n.a.socketsOpen.Load(); got != 4 {
		t.Errorf("%d sockets open, want 4", got)
	}
	setClaims(t, n, claims(false, "eth0", labVIP4b))
	eventually(t, "only eth0's ARP socket left", func() error {
		if got := n.a.socketsOpen.Load(); got != 1 {
			return fmt.Errorf("%d sockets open", got)
		}
		return nil
	})
	setClaims(t, n, nil)
	eventually(t, "no socket left", func() error {
		if got := n.a.socketsOpen.Load(); got != 0 {
			return fmt.Errorf("%d sockets open", got)
		}
		return nil
	})
	// Run ends, its goroutines with it (checked by stop).
	n.stop()
	if st := n.a.State(); len(st) != 0 {
		t.Errorf("State after Run returned: %+v", st)
	}
}

// When the link comes back after an outage, the IPs are announced again:
// switches and clients may have forgotten the MAC meanwhile.
func TestLabLinkFlapAnnouncesAgain(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 1, Clients: 1})
	node := lab.Nodes[0]
	n := startNode(t, node, Options{InterfacePollInterval: 50 * time.Millisecond})
	setClaims(t, n, claims(false, "eth0", labVIP4, labVIP6))
	waitPhase(t, n, labVIP4, "eth0", PhaseAnnounced)
	waitPhase(t, n, labVIP6, "eth0", PhaseAnnounced)
	if err := node.SetLink(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "State reports the link down", func() error {
		if st, _ := phaseOf(n.a, labVIP4, "eth0"); st.Error != "link down" {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	capture := labCapture(t, lab)
	up := time.Now()
	if err := node.SetLink(true); err != nil {
		t.Fatal(err)
	}
	gratuitous := func(ip netip.Addr) vlan.Filter {
		return func(f vlan.Frame) bool {
			if f.Port != node.Name || f.Time.Before(up) {
				return false
			}
			if ip.Is4() {
				return f.ARP != nil && f.ARP.SenderIP == ip && f.ARP.TargetIP == ip
			}
			return f.IsNA() && f.ICMPv6.Target == ip && f.ICMPv6.Override && !f.ICMPv6.Solicited
		}
	}
	waitCaptured(t, capture, "gratuitous ARP after link up", gratuitous(labVIP4))
	waitCaptured(t, capture, "unsolicited NA after link up", gratuitous(labVIP6))
	if st, _ := phaseOf(n.a, labVIP4, "eth0"); st.Phase != PhaseAnnounced || st.Error != "" {
		t.Errorf("state after link up: %+v", st)
	}
}

// Frames that the kernel hands to the claimed interface's sockets on behalf
// of an upper device (here a macvlan on eth0; VLAN devices behave the same
// way) are not answered: the request was for the upper device, which is
// not claimed.
func TestLabUpperDeviceIgnored(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 1, Clients: 1})
	node, client := lab.Nodes[0], lab.Clients[0]
	ctx := context.Background()
	for _, args := range [][]string{
		{"link", "add", "mv0", "link", "eth0", "type", "macvlan", "mode", "bridge"},
		{"link", "set", "mv0", "up"},
	} {
		if _, err := node.Exec(ctx, "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	out, err := node.Exec(ctx, "cat", "/sys/class/net/mv0/address")
	if err != nil {
		t.Fatal(err)
	}
	mv0, err := net.ParseMAC(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, node, Options{})
	setClaims(t, n, claims(false, "eth0", labVIP4, labVIP6))
	waitPhase(t, n, labVIP4, "eth0", PhaseAnnounced)
	waitPhase(t, n, labVIP6, "eth0", PhaseAnnounced)
	eventually(t, "burst over", func() error {
		if g := testutil.ToFloat64(n.a.metrics.gratuitous.WithLabelValues("ndp")); g != 3 {
			return fmt.Errorf("%v NAs sent", g)
		}
		return nil
	})

	w := openWire(t, client, "eth0", client.IPv4.Addr(), client.IPv6.Addr())
	// Unicast to mv0's MAC: reaches eth0's sockets only as mv0's traffic.
	toMV := arpRequest(w.mac, w.ip4, labVIP4)
	toMV.EthDst = mv0
	nsToMV := ns(w.mac, w.ip6, labVIP6)
	nsToMV.EthDst = mv0
	if err := w.sendARP(toMV); err != nil {
		t.Fatal(err)
	}
	if err := w.sendNDP(nsToMV); err != nil {
		t.Fatal(err)
	}
	// Then the same questions to eth0 (broadcast / eth0's MAC), which are
	// answered, and which the node reads after the first ones.
	w.ask(t, labVIP4)
	toEth0 := ns(w.mac, w.ip6, labVIP6)
	toEth0.EthDst = node.MAC
	if err := w.sendNDP(toEth0); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{labVIP4, labVIP6} {
		if _, err := w.answer(ip, time.Now().Add(labTimeout)); err != nil {
			t.Fatal(err)
		}
	}
	// The counters move just after the frames go out: wait for them.
	eventually(t, "requests and replies counted", func() error {
		for _, p := range []string{"arp", "ndp"} {
			r := testutil.ToFloat64(n.a.metrics.requests.WithLabelValues(p))
			a := testutil.ToFloat64(n.a.metrics.replies.WithLabelValues(p))
			if r < 1 || a < 1 {
				return fmt.Errorf("%s: requests %v, replies %v", p, r, a)
			}
		}
		return nil
	})
	for _, p := range []string{"arp", "ndp"} {
		if got := testutil.ToFloat64(n.a.metrics.requests.WithLabelValues(p)); got != 1 {
			t.Errorf("requests_received_total{proto=%s} = %v, want 1: the request to mv0 must not reach the eth0 handler", p, got)
		}
		if got := testutil.ToFloat64(n.a.metrics.replies.WithLabelValues(p)); got != 1 {
			t.Errorf("replies_sent_total{proto=%s} = %v, want 1", p, got)
		}
	}
}
