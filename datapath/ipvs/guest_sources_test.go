//go:build vmguest

package ipvs

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Second client addresses, outside web's ranges and inside admin's.
var (
	client2LAN4 = netip.MustParseAddr("192.0.2.5")
	client2LAN6 = netip.MustParseAddr("2001:db8:1::5")
)

// TestGuestSourceRanges: two Services share the VIPs; web (port 80) admits
// 192.0.2.0/30 and 2001:db8:1::/126 (the client's first addresses), admin
// (port 81) 192.0.2.4/30 and 2001:db8:1::4/126 (its second ones). From
// outside a Service's ranges connections are dropped (time out), from
// inside they are served; moving web's ranges swaps who gets in, lifting
// them admits everyone, and a restart with the same State writes nothing.
func TestGuestSourceRanges(t *testing.T) {
	l := newLab(t, 1, 1)
	ceth, err := l.clientNL.LinkByName("eth0")
	must(t, err)
	addAddr(t, l.clientNL, ceth, client2LAN4, 24)
	addAddr(t, l.clientNL, ceth, client2LAN6, 64)
	l.pinVIP(vipA4)
	l.pinVIP(vipA6)
	admin := corev1.ServicePort{Name: "admin", Protocol: corev1.ProtocolTCP, Port: 81, TargetPort: intstr.FromInt32(echoPort)}
	first := []string{"192.0.2.0/30", "2001:db8:1::/126"}
	second := []string{"192.0.2.4/30", "2001:db8:1::4/126"}
	state := func(webSources []string) svcSpecs {
		return svcSpecs{
			{name: "web", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods, sources: webSources},
			{name: "admin", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods, ports: []corev1.ServicePort{admin}, sources: second},
		}
	}
	b := l.newBackend(Options{})
	applyOK(t, b, l.state(state(first)...))

	type client struct {
		name   string
		v4, v6 netip.Addr
	}
	clients := []client{{"client1", clientLAN4, clientLAN6}, {"client2", client2LAN4, client2LAN6}}
	expect := func(step string, served map[string][]uint16) {
		t.Helper()
		for _, c := range clients {
			for _, f := range []struct{ vip, src netip.Addr }{{vipA4, c.v4}, {vipA6, c.v6}} {
				for _, port := range []uint16{80, 81} {
					want := slices.Contains(served[c.name], port)
					got, err := l.servedFrom(f.src, netip.AddrPortFrom(f.vip, port))
					if err != nil {
						t.Errorf("%s: %s -> %s:%d: %v, want served or dropped (timeout)", step, f.src, f.vip, port, err)
					} else if got != want {
						t.Errorf("%s: %s -> %s:%d served=%v, want %v", step, f.src, f.vip, port, got, want)
					}
				}
			}
		}
	}
	expect("each service its own ranges", map[string][]uint16{"client1": {80}, "client2": {81}})

	applyOK(t, b, l.state(state(second)...))
	expect("web's ranges moved", map[string][]uint16{"client2": {80, 81}})

	applyOK(t, b, l.state(state(nil)...))
	expect("web's ranges lifted", map[string][]uint16{"client1": {80}, "client2": {80, 81}})

	st := l.state(state(first)...)
	applyOK(t, b, st)
	must(t, b.Close())
	again := l.newBackend(Options{})
	applyOK(t, again, st)
	if s := again.Stats(); s.NftTransactions != 0 {
		t.Errorf("restart with the same ranges rewrote nftables: %+v", s)
	}
	expect("after a restart", map[string][]uint16{"client1": {80}, "client2": {81}})
}

type svcSpecs = []svcSpec

// servedFrom connects from the client namespace with source address src:
// true if a pod greeted, false if the connection timed out (dropped); any
// other outcome (refused, ...) is an error.
func (l *lab) servedFrom(src netip.Addr, to netip.AddrPort) (bool, error) {
	var c net.Conn
	var err error
	d := net.Dialer{Timeout: 1500 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.IP(src.AsSlice())}}
	l.client.run(func() { c, err = d.Dial("tcp", to.String()) })
	if err != nil {
		if isTimeout(err) {
			return false, nil
		}
		return false, err
	}
	defer c.Close()
	if _, err := readLine(c); err != nil {
		return false, err
	}
	return true, nil
}
