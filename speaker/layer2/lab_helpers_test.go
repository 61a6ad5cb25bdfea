package layer2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Helpers for the tests that run Announcers inside a vlan lab.

// labTimeout bounds every wait in the lab tests: generous for a loaded
// 2-core machine, while a healthy run takes milliseconds.
const labTimeout = 5 * time.Second

// labNode is an Announcer running inside a lab host's namespace.
type labNode struct {
	h    *vlan.Host
	a    *Announcer
	reg  *prometheus.Registry
	stop func() // cancels Run and waits for it; idempotent
}

// startNode creates an Announcer and runs it inside h's namespace: Run is
// called inside h.Do, so every socket it opens (now or later) belongs to
// the host. The test's cleanup stops it and checks that Run returned with
// every socket closed.
func startNode(t testing.TB, h *vlan.Host, opts Options) *labNode {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", h.Name)
	}
	reg := prometheus.NewPedanticRegistry()
	opts.Registerer = reg
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Do(func() error { return a.Run(ctx) }) }()
	stopped := false
	n := &labNode{h: h, a: a, reg: reg}
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run: %v", h.Name, err)
			}
		case <-time.After(labTimeout):
			t.Errorf("%s: Run did not return %v after its context ended", h.Name, labTimeout)
			return
		}
		if n := a.socketsOpen.Load(); n != 0 {
			t.Errorf("%s: %d sockets still open after Run returned", h.Name, n)
		}
	}
	t.Cleanup(n.stop)
	return n
}

// testWriter sends log lines to t.Log, and drops them once the test is
// over (a reader goroutine may log late).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // t.Log after the test ended panics
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// eventually polls cond until it returns nil or labTimeout passes.
func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(labTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, labTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// phaseOf is the phase of ip on iface in the Announcer's State ("" if the
// IP or interface is not there).
func phaseOf(a *Announcer, ip netip.Addr, iface string) (InterfaceState, bool) {
	for _, an := range a.State() {
		if an.IP != ip {
			continue
		}
		for _, s := range an.Interfaces {
			if s.Name == iface {
				return s, true
			}
		}
	}
	return InterfaceState{}, false
}

func waitPhase(t testing.TB, n *labNode, ip netip.Addr, iface string, want Phase) InterfaceState {
	t.Helper()
	var st InterfaceState
	eventually(t, fmt.Sprintf("%s: %s on %s is %s", n.h.Name, ip, iface, want), func() error {
		var ok bool
		st, ok = phaseOf(n.a, ip, iface)
		if !ok || st.Phase != want {
			return fmt.Errorf("state %+v (present %v)", st, ok)
		}
		return nil
	})
	return st
}

// addVIPRoutes makes the VIP ranges on-link for a client.
func addVIPRoutes(t testing.TB, h *vlan.Host) {
	t.Helper()
	for _, p := range []string{vlan.VIPPoolV4, vlan.VIPPoolV6} {
		if err := h.AddRoute(netip.MustParsePrefix(p), netip.Addr{}); err != nil {
			t.Fatal(err)
		}
	}
}

// neighMAC is the link-layer address of the kernel's neighbour entry for ip
// on h's eth0 ("" if none).
func neighMAC(h *vlan.Host, ip netip.Addr) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
	defer cancel()
	out, err := h.Exec(ctx, "ip", "-j", "neigh", "show", "to", ip.String(), "dev", h.Iface)
	if err != nil {
		return "", err
	}
	var entries []struct {
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		return "", fmt.Errorf("parse %q: %w", out, err)
	}
	if len(entries) == 0 {
		return "", nil
	}
	return entries[0].LLAddr, nil
}

// poke makes h's kernel resolve ip: a UDP datagram to it waits for the
// neighbour entry.
func poke(t testing.TB, h *vlan.Host, ip netip.Addr) {
	t.Helper()
	err := h.Do(func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("ironlb"))
		return err
	})
	if err != nil {
		t.Fatalf("%s: send to %s: %v", h.Name, ip, err)
	}
}

// waitNeigh waits until h's neighbour entry for ip has mac.
func waitNeigh(t testing.TB, h *vlan.Host, ip netip.Addr, mac net.HardwareAddr) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s: neighbour %s is-at %s", h.Name, ip, mac), func() error {
		got, err := neighMAC(h, ip)
		if err != nil {
			return err
		}
		if got != mac.String() {
			return fmt.Errorf("lladdr %q", got)
		}
		return nil
	})
}

// wire is a raw view of one interface inside a lab host: it sends
// hand-made ARP and NDP frames and reads what comes back, standing in for
// a client (or a rogue host) without the kernel's neighbour cache in the
// way.
type wire struct {
	name     string
	mac      net.HardwareAddr
	ip4, ip6 netip.Addr
	arp, nd  *packet.Conn
}

func openWire(t testing.TB, h *vlan.Host, ifname string, ip4, ip6 netip.Addr) *wire {
	t.Helper()
	w := &wire{name: h.Name + "/" + ifname, ip4: ip4, ip6: ip6}
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		w.mac = ifi.HardwareAddr
		if w.arp, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil); err != nil {
			return err
		}
		w.nd, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeIPv6), nil)
		return err
	})
	if err != nil {
		t.Fatalf("%s: open wire: %v", w.name, err)
	}
	t.Cleanup(func() {
		w.arp.Close()
		w.nd.Close()
	})
	return w
}

func (w *wire) sendARP(m arpMsg) error {
	b, err := marshalARP(m)
	if err != nil {
		return err
	}
	_, err = w.arp.WriteTo(b, &packet.Addr{HardwareAddr: m.EthDst})
	return err
}

func (w *wire) sendNDP(m ndpMsg) error {
	b, err := marshalNDP(m)
	if err != nil {
		return err
	}
	_, err = w.nd.WriteTo(b, &packet.Addr{HardwareAddr: m.EthDst})
	return err
}

// ask sends an ARP request or a neighbour solicitation for ip.
func (w *wire) ask(t testing.TB, ip netip.Addr) {
	t.Helper()
	var err error
	if ip.Is4() {
		err = w.sendARP(arpRequest(w.mac, w.ip4, ip))
	} else {
		err = w.sendNDP(ns(w.mac, w.ip6, ip))
	}
	if err != nil {
		t.Fatalf("%s: ask for %s: %v", w.name, ip, err)
	}
}

// claim sends a gratuitous ARP or an unsolicited advertisement claiming ip
// for this wire's MAC.
func (w *wire) claim(t testing.TB, ip netip.Addr) {
	t.Helper()
	var err error
	if ip.Is4() {
		err = w.sendARP(arpGratuitous(w.mac, ip)[0])
	} else {
		err = w.sendNDP(ndpUnsolicited(w.mac, ip))
	}
	if err != nil {
		t.Fatalf("%s: claim %s: %v", w.name, ip, err)
	}
}

// answer reads until an ARP reply or advertisement for ip arrives and
// returns the MAC it gives.
func (w *wire) answer(ip netip.Addr, deadline time.Time) (net.HardwareAddr, error) {
	buf := make([]byte, 2048)
	c := w.arp
	if ip.Is6() {
		c = w.nd
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("%s: no answer for %s: %w", w.name, ip, err)
			}
			return nil, err
		}
		if ip.Is4() {
			m, err := parseARP(buf[:n])
			if err == nil && m.Op == arp.OperationReply && m.SenderIP == ip {
				return m.SenderMAC, nil
			}
			continue
		}
		m, err := parseNDP(buf[:n])
		if err == nil && m.NA && m.Target == ip {
			return m.LinkAddr, nil
		}
	}
}

// answersFor lists the captured replies (ARP replies, advertisements) that
// give a MAC for ip, as "port mac" strings, from frames at or after since.
func answersFor(frames []vlan.Frame, ip netip.Addr, since time.Time) []string {
	var out []string
	for _, f := range frames {
		if f.Time.Before(since) {
			continue
		}
		switch {
		case f.ARP != nil && f.ARP.Op == vlan.ARPReply && f.ARP.SenderIP == ip:
			out = append(out, f.Port+" "+f.ARP.SenderMAC.String())
		case f.ARP != nil && f.ARP.Op == vlan.ARPRequest && f.ARP.SenderIP == ip && f.ARP.TargetIP == ip:
			out = append(out, f.Port+" "+f.ARP.SenderMAC.String()+" (gratuitous)")
		case f.IsNA() && f.ICMPv6.Target == ip:
			out = append(out, f.Port+" "+f.ICMPv6.LinkAddr.String())
		}
	}
	return out
}

// answeredBy reports whether the capture holds an answer for ip from port
// at or after since.
func answeredBy(port string, ip netip.Addr, since time.Time) vlan.Filter {
	return func(f vlan.Frame) bool {
		if f.Port != port || f.Time.Before(since) {
			return false
		}
		return (f.ARP != nil && f.ARP.Op == vlan.ARPReply && f.ARP.SenderIP == ip) ||
			(f.IsNA() && f.ICMPv6.Target == ip)
	}
}

func waitCaptured(t testing.TB, c *vlan.Capture, what string, match vlan.Filter) vlan.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
	defer cancel()
	f, err := c.WaitFor(ctx, match)
	if err != nil {
		t.Fatalf("capture: %s: %v", what, err)
	}
	return f
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests run announcers in network namespaces and need root: run them as root (sudo -E go test ./speaker/layer2/...)")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
