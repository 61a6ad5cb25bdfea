package members

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Real sockets on 127.0.0.1, several Members in one process.

type liveNode struct {
	name   string
	addr   netip.AddrPort
	m      *Members
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

type timing struct{ interval, timeout time.Duration }

var defaultTiming = timing{DefaultInterval, DefaultTimeout}

// listenLoopback opens a UDP socket on 127.0.0.1 (port 0: any free port).
func listenLoopback(t testing.TB, port uint16) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return pc
}

// handOver makes Options.ListenPacket return an already bound socket.
func handOver(pc net.PacketConn) func(context.Context, string, string) (net.PacketConn, error) {
	return func(context.Context, string, string) (net.PacketConn, error) { return pc, nil }
}

func newLiveNode(t testing.TB, name string, pc net.PacketConn, secret []byte, tm timing) *liveNode {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(Options{
		Node: name, Bind: pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		Interval: tm.interval, Timeout: tm.timeout,
		Secret: secret, Registerer: reg, ListenPacket: handOver(pc),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &liveNode{name: name, addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), m: m, reg: reg}
}

func (n *liveNode) start(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.done = make(chan error, 1)
	go func() { n.done <- n.m.Run(ctx) }()
	t.Cleanup(n.stop)
}

// stop is a kill -9 as far as the peers can tell: no leave, socket closed.
func (n *liveNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// startCluster starts count nodes that know each other.
func startCluster(t testing.TB, count int, tm timing) []*liveNode {
	t.Helper()
	var nodes []*liveNode
	peers := map[string]netip.AddrPort{}
	for i := range count {
		n := newLiveNode(t, fmt.Sprintf("node%d", i+1), listenLoopback(t, 0), testSecret, tm)
		nodes = append(nodes, n)
		peers[n.name] = n.addr
	}
	for _, n := range nodes {
		if err := n.m.SetPeers(peers); err != nil {
			t.Fatal(err)
		}
		n.start(t)
	}
	return nodes
}

func names(nodes []*liveNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.name)
	}
	slices.Sort(out)
	return out
}

// waitFor polls cond until it holds or limit passes; limits are generous
// failure bounds, not measurements (BenchmarkDetection measures).
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func allSee(nodes []*liveNode, want []string) func() bool {
	return func() bool {
		for _, n := range nodes {
			if !slices.Equal(n.m.Alive(), want) {
				return false
			}
		}
		return true
	}
}

func TestMembersSeeEachOther(t *testing.T) {
	nodes := startCluster(t, 4, defaultTiming)
	for _, n := range nodes {
		if err := n.m.SetMeta([]byte("macs-of-" + n.name)); err != nil {
			t.Fatal(err)
		}
	}
	d := waitFor(t, 2*time.Second, "all see all", allSee(nodes, names(nodes)))
	t.Logf("4 nodes see each other after %v", d)
	// Meta travels with the incarnation; every node gets everyone's.
	waitFor(t, 2*time.Second, "meta everywhere", func() bool {
		for _, n := range nodes {
			for _, p := range n.m.PeerInfo() {
				if string(p.Meta) != "macs-of-"+p.Name {
					return false
				}
			}
		}
		return true
	})
	waitFor(t, 2*time.Second, "RTT measured", func() bool {
		for _, p := range nodes[0].m.PeerInfo() {
			if p.Monitored && p.RTT <= 0 {
				return false
			}
		}
		return true
	})
	for _, p := range nodes[0].m.PeerInfo() {
		if !p.Alive || p.State != "alive" || !p.Monitored || p.LastHeard.IsZero() || p.SeesAlive != 4 {
			t.Errorf("peer info %+v", p)
		}
	}
	reg := nodes[0].reg
	if got := metric(t, reg, "ironlb_members_alive"); got != 4 {
		t.Errorf("ironlb_members_alive = %v, want 4", got)
	}
	for _, name := range []string{"ironlb_members_heartbeats_sent_total", "ironlb_members_heartbeats_received_total"} {
		if got := metric(t, reg, name); got == 0 {
			t.Errorf("%s = 0", name)
		}
	}
}

func TestMembersDetectKill(t *testing.T) {
	nodes := startCluster(t, 4, defaultTiming)
	waitFor(t, 2*time.Second, "all see all", allSee(nodes, names(nodes)))
	select { // drain: from here on a signal means a change
	case <-nodes[1].m.Changes():
	default:
	}
	victim, rest := nodes[0], nodes[1:]
	victim.stop()
	d := waitFor(t, DefaultTimeout+time.Second, "survivors drop the killed node", allSee(rest, names(rest)))
	t.Logf("kill detected by all survivors after %v (timeout %v)", d, DefaultTimeout)
	// Not before the timeout could have run out: it was the timeout.
	if d < DefaultTimeout-DefaultInterval-10*time.Millisecond {
		t.Fatalf("dropped after %v, before the timeout could expire", d)
	}
	select {
	case <-rest[0].m.Changes():
	default:
		t.Fatal("no Changes() signal")
	}
	// The monitors' verdicts are counted, with a detection latency.
	var dead float64
	for _, n := range rest {
		dead += metric(t, n.reg, "ironlb_members_transitions_total", "dead")
	}
	if dead != 3 {
		t.Errorf("%v dead transitions, want 3", dead)
	}
}

func TestMembersLeaveIsImmediate(t *testing.T) {
	// A long timeout, so that only the leave can explain a quick drop.
	tm := timing{100 * time.Millisecond, 5 * time.Second}
	nodes := startCluster(t, 4, tm)
	waitFor(t, 2*time.Second, "all see all", allSee(nodes, names(nodes)))
	leaver, rest := nodes[0], nodes[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := leaver.m.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	waitFor(t, tm.timeout/2, "survivors drop the leaver", allSee(rest, names(rest)))
	t.Logf("Leave returned after %v (all acknowledged); survivors had dropped it by %v", took, time.Since(start))
	if got := leaver.m.Alive(); slices.Contains(got, leaver.name) {
		t.Fatalf("leaver lists itself after Leave: %v", got)
	}
	if err := leaver.m.Leave(ctx); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	left := metric(t, rest[0].reg, "ironlb_members_transitions_total", "left")
	if left != 1 {
		t.Errorf("%v left transitions, want 1", left)
	}
}

func TestMembersWrongSecretIsRejected(t *testing.T) {
	nodes := startCluster(t, 3, defaultTiming)
	waitFor(t, 2*time.Second, "all see all", allSee(nodes, names(nodes)))
	intruder := newLiveNode(t, "node9", listenLoopback(t, 0), []byte("not the cluster's secret at all"), defaultTiming)
	peers := map[string]netip.AddrPort{intruder.name: intruder.addr}
	for _, n := range nodes {
		peers[n.name] = n.addr
	}
	if err := intruder.m.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := n.m.SetPeers(peers); err != nil {
			t.Fatal(err)
		}
	}
	intruder.start(t)
	waitFor(t, 2*time.Second, "packets rejected", func() bool {
		for _, n := range nodes {
			if metric(t, n.reg, "ironlb_members_heartbeats_rejected_total", "auth") == 0 {
				return false
			}
		}
		return metric(t, intruder.reg, "ironlb_members_heartbeats_rejected_total", "auth") > 0
	})
	// The intruder's join ended by timeout, alone; nobody took it in.
	waitFor(t, 2*time.Second, "intruder alone", func() bool { return slices.Equal(intruder.m.Alive(), []string{"node9"}) })
	time.Sleep(4 * DefaultInterval)
	if !allSee(nodes, names(nodes))() {
		t.Fatalf("views changed: %v", nodes[0].m.Alive())
	}
}

func TestMembersRestartRejoins(t *testing.T) {
	nodes := startCluster(t, 3, defaultTiming)
	waitFor(t, 2*time.Second, "all see all", allSee(nodes, names(nodes)))
	victim := nodes[2]
	victim.stop()
	waitFor(t, DefaultTimeout+time.Second, "dropped", allSee(nodes[:2], names(nodes[:2])))

	// Same name, same port, new process.
	again := newLiveNode(t, victim.name, listenLoopback(t, victim.addr.Port()), testSecret, defaultTiming)
	peers := map[string]netip.AddrPort{}
	for _, n := range nodes {
		peers[n.name] = n.addr
	}
	if err := again.m.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	again.start(t)
	all := append(slices.Clone(nodes[:2]), again)
	d := waitFor(t, 2*time.Second, "rejoined", allSee(all, names(all)))
	t.Logf("restarted node rejoined after %v", d)
}

func TestMembersAPIErrors(t *testing.T) {
	good := Options{Node: "n1", Bind: netip.MustParseAddrPort("192.0.2.1:7946"), Secret: testSecret}
	for _, tc := range []struct {
		mutate func(*Options)
		want   string
	}{
		{func(o *Options) { o.Node = "" }, "Options.Node"},
		{func(o *Options) { o.Node = strings.Repeat("n", 254) }, "Options.Node"},
		{func(o *Options) { o.Bind = netip.AddrPort{} }, "Options.Bind"},
		{func(o *Options) { o.Secret = []byte("short") }, "Options.Secret"},
		{func(o *Options) { o.Interval = time.Second }, "Options.Timeout"},
		{func(o *Options) { o.Fanout = 17 }, "Options.Fanout"},
		{func(o *Options) { o.Interval = time.Microsecond }, "Options.Interval"},
	} {
		o := good
		tc.mutate(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", o, err, tc.want)
		}
	}
	m, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	err = m.SetPeers(map[string]netip.AddrPort{
		"ok":    netip.MustParseAddrPort("192.0.2.2:7946"),
		"v6":    netip.MustParseAddrPort("[2001:db8::1]:7946"),
		"noprt": netip.MustParseAddrPort("192.0.2.3:0"),
		"":      netip.MustParseAddrPort("192.0.2.4:7946"),
	})
	for _, want := range []string{`peer "v6"`, `peer "noprt"`, `peer ""`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SetPeers error %v does not name %s", err, want)
		}
	}
	if info := m.PeerInfo(); len(info) != 1 || info[0].Name != "ok" || info[0].State != "unknown" {
		t.Errorf("valid entries not applied: %+v", info)
	}
	if err := m.SetMeta(make([]byte, MaxMeta+1)); err == nil {
		t.Error("oversized meta accepted")
	}
	if err := m.Leave(context.Background()); err == nil {
		t.Error("Leave before Run succeeded")
	}
	// One registry, two Members: a clear error, not a panic.
	reg := prometheus.NewRegistry()
	o := good
	o.Registerer = reg
	if _, err := New(o); err != nil {
		t.Fatal(err)
	}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "Options.Registerer") {
		t.Errorf("second Members on one registry: %v", err)
	}
}

func TestMembersRunOnceAndListenError(t *testing.T) {
	pc := listenLoopback(t, 0)
	n := newLiveNode(t, "n1", pc, testSecret, defaultTiming)
	if err := n.m.SetPeers(nil); err != nil { // a one-node cluster
		t.Fatal(err)
	}
	n.start(t)
	waitFor(t, 2*time.Second, "running alone", func() bool { return slices.Equal(n.m.Alive(), []string{"n1"}) })
	if err := n.m.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	m, err := New(Options{Node: "n2", Bind: netip.MustParseAddrPort("127.0.0.1:1"), Secret: testSecret,
		ListenPacket: func(context.Context, string, string) (net.PacketConn, error) { return nil, errors.New("boom") }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run with a failing listener: %v", err)
	}
}

// metric sums the samples of a counter or gauge family in reg; with label
// values given, only the samples carrying one of them.
func metric(t testing.TB, reg *prometheus.Registry, name string, labelValues ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := len(labelValues) == 0
			for _, lp := range m.GetLabel() {
				match = match || slices.Contains(labelValues, lp.GetValue())
			}
			if match {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
