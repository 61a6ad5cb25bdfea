//go:build vmguest

package ipvs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mipvs "github.com/moby/ipvs"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vm/guest"
)

// The guest topology: a "node" namespace (where the backend runs), a
// "client" namespace on the LAN 192.0.2.0/24 (2001:db8:1::/64), and pod
// namespaces on a bridge in the node, 198.51.100.0/24 (2001:db8:2::/64).
// VIPs are in 203.0.113.0/24 and 2001:db8:f::/64; the client reaches them
// on-link with a static neighbour entry pointing at the node, which is what
// IronLB's ARP/NDP responder would have taught it.
var (
	nodeLAN4   = netip.MustParseAddr("192.0.2.1")
	clientLAN4 = netip.MustParseAddr("192.0.2.2")
	nodeLAN6   = netip.MustParseAddr("2001:db8:1::1")
	clientLAN6 = netip.MustParseAddr("2001:db8:1::2")
	nodePods4  = netip.MustParseAddr("198.51.100.1")
	nodePods6  = netip.MustParseAddr("2001:db8:2::1")
	vipNet4    = netip.MustParsePrefix("203.0.113.0/24")
	vipNet6    = netip.MustParsePrefix("2001:db8:f::/64")
)

const (
	echoPort   = 8080 // TCP: greets with "<pod> <client address>", then echoes lines
	udpPort    = 5353 // UDP: answers every datagram with "<pod> <client address>"
	streamPort = 9000 // TCP: sends data until the client closes
	nodeName   = "node-a"
	otherNode  = "node-b"
)

var nsSeq atomic.Int64

// worker is a goroutine locked to an OS thread inside one namespace; it runs
// functions there (socket creation is namespaced by the calling thread). The
// thread is never unlocked, so the runtime discards it when the worker ends.
type worker struct {
	fns  chan func()
	done chan struct{}
}

// newNamespace creates a named network namespace and a worker in it.
func newNamespace(t testing.TB, name string) (*worker, netns.NsHandle, string) {
	t.Helper()
	w := &worker{fns: make(chan func()), done: make(chan struct{})}
	type res struct {
		ns  netns.NsHandle
		err error
	}
	ready := make(chan res, 1)
	go func() {
		defer close(w.done)
		runtime.LockOSThread()
		ns, err := netns.NewNamed(name) // also moves this thread into it
		ready <- res{ns, err}
		if err != nil {
			return
		}
		for fn := range w.fns {
			fn()
		}
	}()
	r := <-ready
	if r.err != nil {
		t.Fatalf("create netns %s: %v", name, r.err)
	}
	t.Cleanup(func() {
		close(w.fns)
		<-w.done
		r.ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	w.run(func() {
		lo, err := vnl.LinkByName("lo")
		if err == nil {
			err = vnl.LinkSetUp(lo)
		}
		if err != nil {
			t.Errorf("lo up in %s: %v", name, err)
		}
		for _, s := range []string{"net/ipv6/conf/all/accept_dad", "net/ipv6/conf/default/accept_dad"} {
			_ = writeSysctl(s, "0")
		}
	})
	return w, r.ns, filepath.Join("/run/netns", name)
}

func (w *worker) run(fn func()) {
	done := make(chan struct{})
	w.fns <- func() { fn(); close(done) }
	<-done
}

type pod struct {
	name       string
	w          *worker
	ip4, ip6   netip.Addr
	local      bool
	udpSeen    atomic.Int64 // datagrams received
	mu         sync.Mutex
	open       []net.Conn
	terminated bool
}

type lab struct {
	t                testing.TB
	node, client     *worker
	nodeNS, clientNS netns.NsHandle
	nodePath         string
	nodeNL           *vnl.Handle
	clientNL         *vnl.Handle
	nodeMAC          net.HardwareAddr
	pods             []*pod
}

// newLab builds the topology with nPods pods; the first nLocal run on this
// node (as far as EndpointSlices say), the rest on another.
func newLab(t testing.TB, nPods, nLocal int) *lab {
	t.Helper()
	guest.Require(t)
	id := nsSeq.Add(1)
	l := &lab{t: t}
	l.node, l.nodeNS, l.nodePath = newNamespace(t, fmt.Sprintf("node%d", id))
	l.client, l.clientNS, _ = newNamespace(t, fmt.Sprintf("client%d", id))
	var err error
	if l.nodeNL, err = vnl.NewHandleAt(l.nodeNS, unix.NETLINK_ROUTE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.nodeNL.Close)
	if l.clientNL, err = vnl.NewHandleAt(l.clientNS, unix.NETLINK_ROUTE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.clientNL.Close)
	l.node.run(func() {
		for _, s := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"} {
			if err := writeSysctl(s, "1"); err != nil {
				t.Errorf("%s: %v", s, err)
			}
		}
	})

	// LAN: node lan0 <-> client eth0.
	must(t, vnl.LinkAdd(&vnl.Veth{LinkAttrs: vnl.LinkAttrs{Name: "lan0", Namespace: vnl.NsFd(l.nodeNS)}, PeerName: "eth0", PeerNamespace: vnl.NsFd(l.clientNS)}))
	lan0 := linkUp(t, l.nodeNL, "lan0")
	addAddr(t, l.nodeNL, lan0, nodeLAN4, 24)
	addAddr(t, l.nodeNL, lan0, nodeLAN6, 64)
	l.nodeMAC = lan0.Attrs().HardwareAddr
	ceth := linkUp(t, l.clientNL, "eth0")
	addAddr(t, l.clientNL, ceth, clientLAN4, 24)
	addAddr(t, l.clientNL, ceth, clientLAN6, 64)
	// VIPs on-link (as with a layer 2 announcement) and the pod network
	// through the node, for direct comparisons.
	for _, p := range []netip.Prefix{vipNet4, vipNet6} {
		must(t, l.clientNL.RouteAdd(&vnl.Route{LinkIndex: ceth.Attrs().Index, Dst: prefixNet(p), Scope: unix.RT_SCOPE_LINK}))
	}
	must(t, l.clientNL.RouteAdd(&vnl.Route{Dst: prefixNet(netip.MustParsePrefix("198.51.100.0/24")), Gw: net.IP(nodeLAN4.AsSlice())}))
	must(t, l.clientNL.RouteAdd(&vnl.Route{Dst: prefixNet(netip.MustParsePrefix("2001:db8:2::/64")), Gw: net.IP(nodeLAN6.AsSlice())}))

	// Pods behind a bridge in the node.
	must(t, l.nodeNL.LinkAdd(&vnl.Bridge{LinkAttrs: vnl.LinkAttrs{Name: "pods"}}))
	br := linkUp(t, l.nodeNL, "pods")
	addAddr(t, l.nodeNL, br, nodePods4, 24)
	addAddr(t, l.nodeNL, br, nodePods6, 64)
	for i := range nPods {
		p := &pod{name: fmt.Sprintf("pod%d", i+1), ip4: netip.AddrFrom4([4]byte{198, 51, 100, byte(11 + i)}),
			ip6: netip.MustParseAddr(fmt.Sprintf("2001:db8:2::%x", 0x11+i)), local: i < nLocal}
		var pns netns.NsHandle
		p.w, pns, _ = newNamespace(t, fmt.Sprintf("p%d-%d", id, i+1))
		host := fmt.Sprintf("vp%d", i+1)
		must(t, l.nodeNL.LinkAdd(&vnl.Veth{LinkAttrs: vnl.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: vnl.NsFd(pns)}))
		linkUp(t, l.nodeNL, host)
		pnl, err := vnl.NewHandleAt(pns, unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatal(err)
		}
		peth := linkUp(t, pnl, "eth0")
		addAddr(t, pnl, peth, p.ip4, 24)
		addAddr(t, pnl, peth, p.ip6, 64)
		must(t, pnl.RouteAdd(&vnl.Route{Gw: net.IP(nodePods4.AsSlice())}))
		must(t, pnl.RouteAdd(&vnl.Route{Gw: net.IP(nodePods6.AsSlice())}))
		pnl.Close()
		l.serve(p)
		l.pods = append(l.pods, p)
	}
	return l
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func linkUp(t testing.TB, h *vnl.Handle, name string) vnl.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, err)
	must(t, h.LinkSetUp(l))
	l, err = h.LinkByName(name)
	must(t, err)
	return l
}

func addAddr(t testing.TB, h *vnl.Handle, l vnl.Link, a netip.Addr, bits int) {
	t.Helper()
	must(t, h.AddrAdd(l, &vnl.Addr{IPNet: &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, a.BitLen())}, Flags: unix.IFA_F_NODAD}))
}

// pinVIP makes the client send a VIP's packets to the node's MAC, as the
// speaker's ARP/NDP answer would.
func (l *lab) pinVIP(vip netip.Addr) {
	l.t.Helper()
	ceth, err := l.clientNL.LinkByName("eth0")
	must(l.t, err)
	fam := vnl.FAMILY_V4
	if vip.Is6() {
		fam = vnl.FAMILY_V6
	}
	must(l.t, l.clientNL.NeighSet(&vnl.Neigh{LinkIndex: ceth.Attrs().Index, Family: fam, State: vnl.NUD_PERMANENT, IP: net.IP(vip.AsSlice()), HardwareAddr: l.nodeMAC}))
}

// serve starts the pod's servers; they stop when the test ends.
func (l *lab) serve(p *pod) {
	t := l.t
	var lns []net.Listener
	var udp net.PacketConn
	p.w.run(func() {
		for _, port := range []int{echoPort, streamPort} {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
			if err != nil {
				t.Errorf("%s listen %d: %v", p.name, port, err)
				return
			}
			lns = append(lns, ln)
		}
		var err error
		if udp, err = net.ListenPacket("udp", fmt.Sprintf(":%d", udpPort)); err != nil {
			t.Errorf("%s listen udp: %v", p.name, err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		for _, ln := range lns {
			ln.Close()
		}
		udp.Close()
		p.mu.Lock()
		for _, c := range p.open {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Add(3)
	go func() { defer wg.Done(); acceptLoop(lns[0], p, &wg, echo) }()
	go func() { defer wg.Done(); acceptLoop(lns[1], p, &wg, stream) }()
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			_ = n
			p.udpSeen.Add(1)
			ua := from.(*net.UDPAddr)
			a, _ := netip.AddrFromSlice(ua.IP)
			_, _ = udp.WriteTo([]byte(p.name+" "+a.Unmap().String()), from)
		}
	}()
}

func acceptLoop(ln net.Listener, p *pod, wg *sync.WaitGroup, handle func(*pod, net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.open = append(p.open, c)
		p.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			handle(p, c)
		}()
	}
}

func echo(p *pod, c net.Conn) {
	ra := c.RemoteAddr().(*net.TCPAddr)
	a, _ := netip.AddrFromSlice(ra.IP)
	if _, err := fmt.Fprintf(c, "%s %s\n", p.name, a.Unmap()); err != nil {
		return
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := fmt.Fprintf(c, "%s %s\n", p.name, sc.Text()); err != nil {
			return
		}
	}
}

func stream(_ *pod, c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// dial connects from the client namespace.
func (l *lab) dial(network string, to netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	var err error
	l.client.run(func() { c, err = net.DialTimeout(network, to.String(), timeout) })
	return c, err
}

// hello opens a connection to the echo port and returns it with the
// greeting: which pod answered and the client address it saw.
func (l *lab) hello(to netip.AddrPort) (net.Conn, string, netip.Addr, error) {
	c, err := l.dial("tcp", to, 5*time.Second)
	if err != nil {
		return nil, "", netip.Addr{}, err
	}
	line, err := readLine(c)
	if err != nil {
		c.Close()
		return nil, "", netip.Addr{}, fmt.Errorf("greeting from %s: %w", to, err)
	}
	name, addr, _ := strings.Cut(strings.TrimSpace(line), " ")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		c.Close()
		return nil, "", netip.Addr{}, fmt.Errorf("greeting %q: %w", line, err)
	}
	return c, name, a, nil
}

// spread makes n short connections and counts them per pod, checking the
// source address every pod saw.
func (l *lab) spread(to netip.AddrPort, n int, wantSrc netip.Addr) map[string]int {
	l.t.Helper()
	got := map[string]int{}
	for range n {
		c, name, src, err := l.hello(to)
		if err != nil {
			l.t.Fatalf("connect %s: %v", to, err)
		}
		c.Close()
		got[name]++
		if src != wantSrc {
			l.t.Errorf("%s saw the client as %s, want %s", name, src, wantSrc)
		}
	}
	return got
}

// newBackend starts a backend in the node namespace.
func (l *lab) newBackend(opts Options) *Backend {
	l.t.Helper()
	opts.NetNS = l.nodePath
	if opts.Logger == nil {
		// Warnings (a failed conntrack cleanup, ...) explain failures.
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{l.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	b, err := New(opts)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { b.Close() })
	return b
}

// ipvsDump is the node's whole IPVS table as text, like ipvsadm -Ln.
func (l *lab) ipvsDump() []string {
	l.t.Helper()
	h, err := mipvs.New(l.nodePath)
	must(l.t, err)
	defer h.Close()
	svcs, err := h.GetServices()
	must(l.t, err)
	var out []string
	for _, s := range svcs {
		head := fmt.Sprintf("fwmark %d", s.FWMark)
		if s.FWMark == 0 {
			head = fmt.Sprintf("proto %d %s", s.Protocol, net.JoinHostPort(s.Address.String(), fmt.Sprint(s.Port)))
		}
		out = append(out, fmt.Sprintf("%s %s flags %#x timeout %d", head, s.SchedName, s.Flags, s.Timeout))
		ds, err := h.GetDestinations(s)
		must(l.t, err)
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s   -> %s fwd %d weight %d", head, net.JoinHostPort(d.Address.String(), fmt.Sprint(d.Port)), d.ConnectionFlags&mipvs.ConnectionFlagFwdMask, d.Weight))
		}
	}
	slices.Sort(out)
	return out
}

// destWeight returns a destination's weight in the kernel (-1: absent).
func (l *lab) destWeight(k datapath.ServiceKey, a netip.AddrPort) int {
	l.t.Helper()
	h, err := mipvs.New(l.nodePath)
	must(l.t, err)
	defer h.Close()
	ds, err := h.GetDestinations(serviceID(k, kService{}))
	must(l.t, err)
	for _, d := range ds {
		if da, _ := netip.AddrFromSlice(d.Address); netip.AddrPortFrom(da.Unmap(), d.Port) == a {
			return d.Weight
		}
	}
	return -1
}

func readLine(c net.Conn) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
}

// nftDump renders IronLB's table: chains, rule counts and set elements.
func (l *lab) nftDump() string {
	l.t.Helper()
	b, err := New(Options{NetNS: l.nodePath})
	must(l.t, err)
	defer b.Close()
	ok, err := b.nft.adopt()
	must(l.t, err)
	if !ok {
		return "no table"
	}
	var parts []string
	for n, m := range b.nft.have {
		parts = append(parts, fmt.Sprintf("%s=%x", n, sortedKeys(m)))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// dummyAddrs lists the VIPs on the dummy interface.
func (l *lab) dummyAddrs() []netip.Addr {
	l.t.Helper()
	link, err := l.nodeNL.LinkByName(defaultInterface)
	must(l.t, err)
	m, err := linkVIPs(l.nodeNL, link)
	must(l.t, err)
	return sortedAddrs(m)
}

// udpFlowsTo counts the node's conntrack entries of UDP flows to service
// svc that lead to backend.
func (l *lab) udpFlowsTo(svc, backend netip.AddrPort) int {
	l.t.Helper()
	ns, err := netns.GetFromPath(l.nodePath)
	must(l.t, err)
	defer ns.Close()
	h, err := vnl.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	must(l.t, err)
	defer h.Close()
	fam := vnl.InetFamily(unix.AF_INET)
	if svc.Addr().Is6() {
		fam = unix.AF_INET6
	}
	flows, err := h.ConntrackTableList(vnl.ConntrackTable, fam)
	if err != nil && !errors.Is(err, vnl.ErrDumpInterrupted) {
		l.t.Fatalf("list conntrack: %v", err)
	}
	f := udpFlows{key: datapath.ServiceKey{VIP: svc.Addr(), Port: svc.Port(), Protocol: datapath.UDP}, backend: backend}
	n := 0
	for _, fl := range flows {
		if f.MatchConntrackFlow(fl) {
			n++
		}
	}
	return n
}

// testWriter sends log lines to t.Log, and drops them once the test is
// over (a goroutine may log late).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // t.Log after the test ended panics
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
