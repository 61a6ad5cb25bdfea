//go:build vmguest

package ipvs

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	mipvs "github.com/moby/ipvs"
	vnl "github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ironlb/ironlb/datapath"
)

var (
	vipA4 = netip.MustParseAddr("203.0.113.10")
	vipA6 = netip.MustParseAddr("2001:db8:f::10")
	vipB4 = netip.MustParseAddr("203.0.113.20")
)

func TestGuestProbe(t *testing.T) {
	l := newLab(t, 0, 0)
	if err := Probe(t.Context(), l.nodePath); err != nil {
		t.Fatalf("Probe in a fresh namespace: %v", err)
	}
	if d := l.ipvsDump(); len(d) != 0 {
		t.Errorf("probe left services behind: %v", d)
	}
}

// TestGuestCluster: every ready pod gets connections, local or not, and
// sees the node's address (masquerade), over IPv4 and IPv6.
func TestGuestCluster(t *testing.T) {
	l := newLab(t, 4, 2)
	b := l.newBackend(Options{})
	applyOK(t, b, l.state(svcSpec{name: "web", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods}))
	for _, tc := range []struct {
		vip, src netip.Addr
	}{{vipA4, nodePods4}, {vipA6, nodePods6}} {
		l.pinVIP(tc.vip)
		got := l.spread(netip.AddrPortFrom(tc.vip, 80), 12, tc.src)
		if want := podNames(l.pods...); !slices.Equal(keysOf(got), want) {
			t.Errorf("%s: connections reached %v, want every pod %v", tc.vip, got, want)
		}
	}
	// A client on the node itself is masqueraded too.
	for _, tc := range []struct{ vip, src netip.Addr }{{vipA4, nodePods4}, {vipA6, nodePods6}} {
		var c net.Conn
		var err error
		l.node.run(func() { c, err = net.DialTimeout("tcp", netip.AddrPortFrom(tc.vip, 80).String(), 5*time.Second) })
		if err != nil {
			t.Fatalf("from the node to %s: %v", tc.vip, err)
		}
		line, err := readLine(c)
		c.Close()
		if _, src, _ := strings.Cut(line, " "); err != nil || src != tc.src.String() {
			t.Errorf("from the node to %s: greeting %q (%v), want the pod to see %s", tc.vip, line, err, tc.src)
		}
	}
	dump := strings.Join(l.ipvsDump(), "\n")
	for _, want := range []string{"proto 6 203.0.113.10:80 rr", "proto 6 [2001:db8:f::10]:80 rr", "-> 198.51.100.14:8080 fwd 0 weight 1"} {
		if !strings.Contains(dump, want) {
			t.Errorf("IPVS table lacks %q:\n%s", want, dump)
		}
	}
}

// TestGuestLocal: only this node's pods, each seeing the client's address.
func TestGuestLocal(t *testing.T) {
	l := newLab(t, 4, 2)
	b := l.newBackend(Options{})
	applyOK(t, b, l.state(svcSpec{name: "web", vips: []netip.Addr{vipA4, vipA6}, local: true, pods: l.pods}))
	for _, tc := range []struct {
		vip, src netip.Addr
	}{{vipA4, clientLAN4}, {vipA6, clientLAN6}} {
		l.pinVIP(tc.vip)
		got := l.spread(netip.AddrPortFrom(tc.vip, 80), 8, tc.src)
		if want := podNames(l.pods[:2]...); !slices.Equal(keysOf(got), want) {
			t.Errorf("%s: connections reached %v, want only the local pods %v", tc.vip, got, want)
		}
	}
}

// TestGuestSessionAffinity: with ClientIP affinity one client sticks to one
// pod; without it the same client is spread (so the check can fail).
func TestGuestSessionAffinity(t *testing.T) {
	l := newLab(t, 3, 3)
	b := l.newBackend(Options{})
	l.pinVIP(vipA4)
	l.pinVIP(vipB4)
	applyOK(t, b, l.state(
		svcSpec{name: "sticky", vips: []netip.Addr{vipA4}, affinity: 600, pods: l.pods},
		svcSpec{name: "loose", vips: []netip.Addr{vipB4}, pods: l.pods},
	))
	if got := l.spread(netip.AddrPortFrom(vipA4, 80), 9, nodePods4); len(got) != 1 {
		t.Errorf("with affinity one client reached %v, want one pod", got)
	}
	if got := l.spread(netip.AddrPortFrom(vipB4, 80), 9, nodePods4); len(got) < 2 {
		t.Errorf("without affinity one client reached %v, want several pods", got)
	}
	dump := strings.Join(l.ipvsDump(), "\n")
	if !strings.Contains(dump, "203.0.113.10:80 rr flags 0x3 timeout 600") {
		t.Errorf("persistent service not as expected:\n%s", dump)
	}
}

// TestGuestTerminatingDrains: a terminating pod keeps its open connection
// but gets no new ones; when it leaves the State it is kept at weight 0
// while the connection lasts, then removed (here by the drain timeout,
// which a fake clock passes).
func TestGuestTerminatingDrains(t *testing.T) {
	l := newLab(t, 3, 3)
	idle := l.pods[2] // terminating from the start: never gets a connection
	idle.terminated = true
	now := time.Unix(10000, 0)
	b := l.newBackend(Options{Now: func() time.Time { return now }, DrainTimeout: time.Minute})
	l.pinVIP(vipA4)
	spec := svcSpec{name: "web", vips: []netip.Addr{vipA4}, pods: l.pods}
	applyOK(t, b, l.state(spec))
	vip := netip.AddrPortFrom(vipA4, 80)
	key := datapath.ServiceKey{VIP: vipA4, Port: 80, Protocol: datapath.TCP}
	if w := l.destWeight(key, netip.AddrPortFrom(idle.ip4, echoPort)); w != 0 {
		t.Fatalf("endpoint terminating from the start has weight %d, want 0", w)
	}

	conn, victimName, _, err := l.hello(vip)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	victim, other := l.pods[0], l.pods[1]
	if victimName != victim.name {
		victim, other = other, victim
	}
	talk := func(stage string) {
		t.Helper()
		if _, err := fmt.Fprintf(conn, "%s\n", stage); err != nil {
			t.Fatalf("%s: write on the old connection: %v", stage, err)
		}
		line, err := readLine(conn)
		if err != nil || line != victim.name+" "+stage {
			t.Fatalf("%s: old connection answered %q, %v", stage, line, err)
		}
	}
	talk("before")

	victim.terminated = true
	applyOK(t, b, l.state(spec))
	if w := l.destWeight(key, netip.AddrPortFrom(victim.ip4, echoPort)); w != 0 {
		t.Fatalf("terminating endpoint has weight %d, want 0", w)
	}
	if got := l.spread(vip, 6, nodePods4); !slices.Equal(keysOf(got), []string{other.name}) {
		t.Errorf("new connections while terminating reached %v, want only %s", got, other.name)
	}
	talk("terminating")

	// Both terminating endpoints leave the State: the one with an open
	// connection drains, the one that never had a connection goes at once.
	spec.pods = []*pod{other}
	applyOK(t, b, l.state(spec))
	victimDest := netip.AddrPortFrom(victim.ip4, echoPort)
	if w := l.destWeight(key, victimDest); w != 0 {
		t.Fatalf("departed endpoint with an open connection: weight %d, want 0 (draining)", w)
	}
	if got := b.Stats().Draining; got != 1 {
		t.Errorf("Draining = %d, want 1", got)
	}
	if w := l.destWeight(key, netip.AddrPortFrom(idle.ip4, echoPort)); w != -1 {
		t.Errorf("departed endpoint without connections kept (weight %d), want removed at once", w)
	}
	must(t, b.Sweep(t.Context()))
	if w := l.destWeight(key, victimDest); w != 0 {
		t.Fatalf("sweep removed a destination with an open connection (weight %d)", w)
	}
	talk("departed")
	if got := l.spread(vip, 4, nodePods4); !slices.Equal(keysOf(got), []string{other.name}) {
		t.Errorf("new connections while draining reached %v, want only %s", got, other.name)
	}
	conn.Close()
	now = now.Add(time.Minute)
	must(t, b.Sweep(t.Context()))
	if w := l.destWeight(key, victimDest); w != -1 {
		t.Errorf("after the drain timeout the destination is still there (weight %d)", w)
	}
	if got := b.Stats().Draining; got != 0 {
		t.Errorf("Draining = %d after the sweep, want 0", got)
	}

}

// TestGuestUDPEndpointRemoved: a flow that was going to a removed UDP
// endpoint moves to another one at once.
func TestGuestUDPEndpointRemoved(t *testing.T) {
	l := newLab(t, 2, 2)
	b := l.newBackend(Options{})
	l.pinVIP(vipA4)
	spec := svcSpec{name: "dns", vips: []netip.Addr{vipA4}, pods: l.pods,
		ports: []corev1.ServicePort{{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(udpPort)}}}
	applyOK(t, b, l.state(spec))
	c, err := l.dial("udp", netip.AddrPortFrom(vipA4, 53), time.Second)
	must(t, err)
	defer c.Close()
	ask := func() string {
		t.Helper()
		for range 5 {
			if _, err := c.Write([]byte("q")); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			if err == nil {
				name, _, _ := strings.Cut(string(buf[:n]), " ")
				return name
			}
		}
		t.Fatal("no UDP answer")
		return ""
	}
	first := ask()
	for range 3 {
		if got := ask(); got != first {
			t.Fatalf("one UDP flow answered by %s and %s", first, got)
		}
	}
	var gone, stays *pod
	for _, p := range l.pods {
		if p.name == first {
			gone = p
		} else {
			stays = p
		}
	}
	spec.pods = []*pod{stays}
	applyOK(t, b, l.state(spec))
	// No conntrack entry leads to the removed endpoint any more. (Who
	// deleted it varies: the backend's flush, or IPVS itself when a late
	// datagram of the flow found the destination gone.)
	if n := l.udpFlowsTo(netip.AddrPortFrom(vipA4, 53), netip.AddrPortFrom(gone.ip4, udpPort)); n != 0 {
		t.Errorf("%d conntrack entries still lead to the removed endpoint %s (backend deleted %d)", n, gone.name, b.Stats().ConntrackDeleted)
	}
	before := gone.udpSeen.Load()
	for range 4 {
		if got := ask(); got != stays.name {
			t.Fatalf("after removing %s the flow is answered by %s", gone.name, got)
		}
	}
	if n := gone.udpSeen.Load(); n != before {
		t.Errorf("removed endpoint %s got %d more datagrams", gone.name, n-before)
	}
}

// TestGuestRefusals: ports of a VIP that are no Service port are refused
// even though the node listens on them; a Cluster service without
// endpoints refuses; a Local one without local endpoints drops.
func TestGuestRefusals(t *testing.T) {
	l := newLab(t, 2, 0) // no local pod
	b := l.newBackend(Options{})
	l.pinVIP(vipA4)
	l.pinVIP(vipB4)
	var ln net.Listener
	l.node.run(func() { ln, _ = net.Listen("tcp", ":2222") })
	if ln == nil {
		t.Fatal("node listener")
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	applyOK(t, b, l.state(
		svcSpec{name: "web", vips: []netip.Addr{vipA4}, pods: l.pods,
			ports: []corev1.ServicePort{httpPort, {Name: "empty", Protocol: corev1.ProtocolTCP, Port: 81, TargetPort: intstr.FromInt32(81)}}},
		svcSpec{name: "local", vips: []netip.Addr{vipB4}, local: true, pods: l.pods},
	))
	// Sanity: the node's own address does serve 2222.
	c, err := l.dial("tcp", netip.AddrPortFrom(nodeLAN4, 2222), 3*time.Second)
	if err != nil {
		t.Fatalf("the node's listener is not reachable on its own address: %v", err)
	}
	c.Close()
	refused := func(to netip.AddrPort) {
		t.Helper()
		c, err := l.dial("tcp", to, 3*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("%s accepted a connection, want refused", to)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: %v, want connection refused", to, err)
		}
	}
	refused(netip.AddrPortFrom(vipA4, 2222)) // the node listens there, but it is no Service port
	refused(netip.AddrPortFrom(vipA4, 81))   // Service port without endpoints (none on port 81)
	if _, err := l.dial("tcp", netip.AddrPortFrom(vipB4, 80), time.Second); err == nil || !isTimeout(err) {
		t.Errorf("Local service without local endpoints: %v, want a timeout (dropped)", err)
	}
	// UDP to a non-service port: ICMP port unreachable.
	u, err := l.dial("udp", netip.AddrPortFrom(vipA4, 9999), time.Second)
	must(t, err)
	defer u.Close()
	_, _ = u.Write([]byte("x"))
	_ = u.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := u.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("UDP to a non-service port: %v, want connection refused", err)
	}
	// And the service port itself works.
	if got := l.spread(netip.AddrPortFrom(vipA4, 80), 2, nodePods4); len(got) == 0 {
		t.Error("service port unreachable")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestGuestRestartAndForeign: a new backend applying the same State writes
// nothing and leaves the tables as they were; a foreign IPVS service
// (planted first) survives everything; a VIP that a previous instance bound
// is cleaned up when the State no longer has it.
func TestGuestRestartAndForeign(t *testing.T) {
	l := newLab(t, 2, 2)
	h, err := mipvs.New(l.nodePath)
	must(t, err)
	defer h.Close()
	foreign := &mipvs.Service{Address: net.ParseIP("192.0.2.100").To4(), Protocol: syscall.IPPROTO_TCP, Port: 80, AddressFamily: syscall.AF_INET, SchedName: "rr", Netmask: 0xffffffff}
	must(t, h.NewService(foreign))
	must(t, h.NewDestination(foreign, &mipvs.Destination{Address: net.ParseIP("198.51.100.200").To4(), Port: 80, Weight: 1}))
	fwmark := &mipvs.Service{FWMark: 42, AddressFamily: syscall.AF_INET, SchedName: "wlc", Netmask: 0xffffffff}
	must(t, h.NewService(fwmark))
	foreignDump := l.ipvsDump()

	st := l.state(
		svcSpec{name: "web", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods, affinity: 60},
		svcSpec{name: "other", vips: []netip.Addr{vipB4}, local: true, pods: l.pods, scheduler: "mh"},
	)
	first := l.newBackend(Options{VIPPrefixes: []netip.Prefix{vipNet4, vipNet6}})
	applyOK(t, first, st)
	before := l.ipvsDump()
	nftBefore := l.nftDump()
	addrsBefore := l.dummyAddrs()
	for _, f := range foreignDump {
		if !slices.Contains(before, f) {
			t.Errorf("foreign entry %q changed or vanished", f)
		}
	}
	if len(before) != len(foreignDump)+3+6 {
		t.Errorf("IPVS table has %d lines, want %d:\n%s", len(before), len(foreignDump)+9, strings.Join(before, "\n"))
	}
	must(t, first.Close())

	second := l.newBackend(Options{VIPPrefixes: []netip.Prefix{vipNet4, vipNet6}})
	applyOK(t, second, st)
	s := second.Stats()
	if s.IPVSWrites != 0 || s.NftTransactions != 0 || s.AddressChanges != 0 || s.SysctlWrites != 0 {
		t.Errorf("restart with the same State wrote something: %+v", s)
	}
	if after := l.ipvsDump(); !slices.Equal(before, after) {
		t.Errorf("IPVS changed across restart:\nbefore %v\nafter  %v", before, after)
	}
	if after := l.nftDump(); after != nftBefore {
		t.Errorf("nftables changed across restart:\nbefore %s\nafter  %s", nftBefore, after)
	}
	if after := l.dummyAddrs(); !slices.Equal(addrsBefore, after) {
		t.Errorf("VIP addresses changed across restart: %v -> %v", addrsBefore, after)
	}
	must(t, second.Close())

	// A third instance, without VIPPrefixes, gets a State without "other":
	// its VIP is found on the dummy interface and cleaned up.
	third := l.newBackend(Options{})
	applyOK(t, third, l.state(svcSpec{name: "web", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods, affinity: 60}))
	after := l.ipvsDump()
	for _, line := range after {
		if strings.Contains(line, vipB4.String()) {
			t.Errorf("service of the dropped VIP survived: %s", line)
		}
	}
	for _, f := range foreignDump {
		if !slices.Contains(after, f) {
			t.Errorf("foreign entry %q changed or vanished", f)
		}
	}
	if addrs := l.dummyAddrs(); slices.Contains(addrs, vipB4) || !slices.Contains(addrs, vipA4) {
		t.Errorf("dummy addresses %v: want %s gone and %s kept", addrs, vipB4, vipA4)
	}

	// Teardown removes IronLB's part only.
	must(t, third.Teardown(t.Context()))
	if got := l.ipvsDump(); !slices.Equal(got, foreignDump) {
		t.Errorf("after teardown IPVS holds %v, want only the foreign %v", got, foreignDump)
	}
	if _, err := l.nodeNL.LinkByName(defaultInterface); err == nil {
		t.Error("dummy interface survived teardown")
	}
}

// TestGuestARPAndNDPScope: the node answers ARP/NS for its own LAN address
// but never for a VIP, which lives on the dummy interface.
func TestGuestARPAndNDPScope(t *testing.T) {
	l := newLab(t, 1, 1)
	b := l.newBackend(Options{})
	applyOK(t, b, l.state(svcSpec{name: "web", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods}))
	l.node.run(func() {
		for _, s := range []string{"net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce"} {
			v, err := readSysctl(s)
			if err != nil || v == "0" {
				t.Errorf("%s = %q, %v", s, v, err)
			}
		}
	})
	for _, tc := range []struct{ own, vip netip.Addr }{{nodeLAN4, vipA4}, {nodeLAN6, vipA6}} {
		// No static neighbour entry for the VIP: the client must resolve it.
		if _, err := l.dial("tcp", netip.AddrPortFrom(tc.vip, 80), 1500*time.Millisecond); err == nil {
			t.Errorf("%s answered without a static neighbour: the kernel resolved the VIP", tc.vip)
		}
		if st := l.neighState(tc.vip); st&(vnl.NUD_REACHABLE|vnl.NUD_STALE|vnl.NUD_DELAY|vnl.NUD_PROBE) != 0 {
			t.Errorf("client learned a neighbour entry for %s (state %#x): the node answered for a VIP", tc.vip, st)
		}
		// The same node answers for its own address.
		c, err := l.dial("tcp", netip.AddrPortFrom(tc.own, 1), 3*time.Second)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("node address %s: %v, want connection refused (resolved, nothing listening)", tc.own, err)
		}
	}
}

func (l *lab) neighState(a netip.Addr) int {
	fam := vnl.FAMILY_V4
	if a.Is6() {
		fam = vnl.FAMILY_V6
	}
	ns, err := l.clientNL.NeighList(0, fam)
	must(l.t, err)
	for _, n := range ns {
		if na, _ := netip.AddrFromSlice(n.IP); na.Unmap() == a {
			return n.State
		}
	}
	return 0
}

// TestGuestSchedulers: every scheduler and flag IronLB offers is accepted
// by the kernel and reads back as written.
func TestGuestSchedulers(t *testing.T) {
	l := newLab(t, 1, 1)
	b := l.newBackend(Options{})
	tests := []struct {
		flags string
		want  string
	}{
		{"", "rr flags 0x2"}, {"wrr", "wrr flags 0x2"}, {"lc", "lc flags 0x2"}, {"wlc", "wlc flags 0x2"},
		{"sh", "sh flags 0x2"}, {"mh", "mh flags 0x2"},
	}
	var specs []svcSpec
	for i, tc := range tests {
		specs = append(specs, svcSpec{name: fmt.Sprintf("s%d", i), vips: []netip.Addr{netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i)})}, scheduler: tc.flags, pods: l.pods})
	}
	st := l.state(specs...)
	// Flags come from the annotation; set them on the State directly.
	mhKey := datapath.ServiceKey{VIP: netip.AddrFrom4([4]byte{203, 0, 113, 105}), Port: 80, Protocol: datapath.TCP}
	vs := st.Services[mhKey]
	vs.Flags = datapath.SchedulerFlags{Fallback: true, Port: true}
	st.Services[mhKey] = vs
	tests[5].want = "mh flags 0x1a"
	applyOK(t, b, st)
	dump := strings.Join(l.ipvsDump(), "\n")
	for i, tc := range tests {
		want := fmt.Sprintf("203.0.113.%d:80 %s", 100+i, tc.want)
		if !strings.Contains(dump, want) {
			t.Errorf("want %q in\n%s", want, dump)
		}
	}
	// Changing the scheduler in place (a new State: Apply keeps the old).
	next := datapath.State{Services: maps.Clone(st.Services)}
	vs.Scheduler = datapath.SourceHashing
	vs.Flags = datapath.SchedulerFlags{Port: true}
	next.Services[mhKey] = vs
	applyOK(t, b, next)
	if dump := strings.Join(l.ipvsDump(), "\n"); !strings.Contains(dump, "203.0.113.105:80 sh flags 0x12") {
		t.Errorf("scheduler change not applied:\n%s", dump)
	}
}

// TestGuestRepairsDrift: IPVS changed behind the backend's back is put
// right by Resync, and an Apply whose incremental step fails on the drift
// falls back to a full resync.
func TestGuestRepairsDrift(t *testing.T) {
	l := newLab(t, 2, 2)
	b := l.newBackend(Options{})
	spec := svcSpec{name: "web", vips: []netip.Addr{vipA4, vipB4}, pods: l.pods}
	applyOK(t, b, l.state(spec))
	want := l.ipvsDump()
	h, err := mipvs.New(l.nodePath)
	must(t, err)
	defer h.Close()
	svcA := serviceID(datapath.ServiceKey{VIP: vipA4, Port: 80, Protocol: datapath.TCP}, kService{})
	svcB := serviceID(datapath.ServiceKey{VIP: vipB4, Port: 80, Protocol: datapath.TCP}, kService{})
	must(t, h.DelService(svcA))
	must(t, h.UpdateDestination(svcB, &mipvs.Destination{Address: net.IP(l.pods[0].ip4.AsSlice()), Port: echoPort, Weight: 7}))
	must(t, b.Resync(t.Context()))
	if got := l.ipvsDump(); !slices.Equal(got, want) {
		t.Errorf("after Resync:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Drift on a service the next State changes: the incremental update
	// fails (no such service) and a full resync takes over.
	must(t, h.DelService(svcA))
	spec.pods = l.pods[:1]
	applyOK(t, b, l.state(spec))
	dump := strings.Join(l.ipvsDump(), "\n")
	if !strings.Contains(dump, "203.0.113.10:80   -> 198.51.100.11:8080 fwd 0 weight 1") {
		t.Errorf("service not restored by the fallback resync:\n%s", dump)
	}
	if s := b.Stats(); s.FullSyncs < 3 {
		t.Errorf("FullSyncs = %d, want at least 3 (first Apply, Resync, fallback)", s.FullSyncs)
	}
}
