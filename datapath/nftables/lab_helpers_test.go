package nftables

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Addresses of the tests' VIPs (vlan.VIPPoolV4/V6).
var (
	vip4 = netip.MustParseAddr("203.0.113.10")
	vip6 = netip.MustParseAddr("2001:db8:300::10")
)

const podPort = 8080

// testLab is two nodes, a client routed to the VIPs through node1, and
// pods: a1, a2 on node1, b1 on node2. node1 routes to node2's pods.
type testLab struct {
	lab    *vlan.Lab
	node1  *vlan.Host
	node2  *vlan.Host
	client *vlan.Host
	pods   map[string]*vlan.Host
	// servers by pod name, for TCP and UDP.
	tcp map[string]*tcpServer
	udp map[string]*udpServer
}

func newTestLab(t testing.TB) *testLab {
	t.Helper()
	lab := vlan.New(t, vlan.Options{Nodes: 2, Clients: 1})
	l := &testLab{lab: lab, node1: lab.Nodes[0], node2: lab.Nodes[1], client: lab.Clients[0],
		pods: map[string]*vlan.Host{}, tcp: map[string]*tcpServer{}, udp: map[string]*udpServer{}}
	for _, p := range []struct {
		name string
		node *vlan.Host
	}{{"a1", l.node1}, {"a2", l.node1}, {"b1", l.node2}} {
		h, err := lab.AddPod(p.node, p.name, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		l.pods[p.name] = h
		l.tcp[p.name] = startTCPServer(t, h)
		l.udp[p.name] = startUDPServer(t, h)
	}
	must(t, l.client.AddRoute(netip.PrefixFrom(vip4, 32), l.node1.IPv4.Addr()))
	must(t, l.client.AddRoute(netip.PrefixFrom(vip6, 128), l.node1.IPv6.Addr()))
	must(t, l.node1.AddRoute(l.node2.PodCIDRv4, l.node2.IPv4.Addr()))
	must(t, l.node1.AddRoute(l.node2.PodCIDRv6, l.node2.IPv6.Addr()))
	return l
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// backend starts a Backend programming node's namespace.
func backendFor(t testing.TB, node *vlan.Host) *Backend {
	t.Helper()
	b, err := New(Options{NetNS: "/run/netns/" + node.NetNS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func apply(t testing.TB, b *Backend, st datapath.State) {
	t.Helper()
	if len(st.Problems) > 0 {
		t.Fatalf("state has problems: %v", st.Problems)
	}
	if err := b.Apply(context.Background(), st); err != nil {
		t.Fatal(err)
	}
}

// tcpServer answers every connection with "<pod> <remote address>\n" and
// then echoes lines until the client closes.
type tcpServer struct {
	name     string
	accepted atomic.Int64
}

func startTCPServer(t testing.TB, pod *vlan.Host) *tcpServer {
	ln, err := pod.Listen("tcp", fmt.Sprintf("[::]:%d", podPort))
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpServer{name: pod.Name}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				ra := c.RemoteAddr().(*net.TCPAddr).AddrPort()
				fmt.Fprintf(c, "%s %s\n", s.name, ra.Addr().Unmap())
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

// udpServer answers every datagram with "<pod> <remote address>".
type udpServer struct {
	name     string
	received atomic.Int64
}

func startUDPServer(t testing.TB, pod *vlan.Host) *udpServer {
	pc, err := pod.ListenPacket("udp", fmt.Sprintf("[::]:%d", podPort))
	if err != nil {
		t.Fatal(err)
	}
	s := &udpServer{name: pod.Name}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.received.Add(1)
			ra := from.(*net.UDPAddr).AddrPort()
			_, _ = pc.WriteTo([]byte(fmt.Sprintf("%s %s", s.name, ra.Addr().Unmap())), from)
		}
	}()
	return s
}

// hello connects to addr from host and returns the pod's greeting: its
// name and the address it saw.
func hello(ctx context.Context, host *vlan.Host, addr netip.AddrPort) (pod string, seen netip.Addr, err error) {
	c, err := host.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", netip.Addr{}, err
	}
	defer c.Close()
	return readGreeting(c)
}

func readGreeting(c net.Conn) (string, netip.Addr, error) {
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", netip.Addr{}, err
	}
	name, a, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok {
		return "", netip.Addr{}, fmt.Errorf("bad greeting %q", line)
	}
	seen, err := netip.ParseAddr(a)
	return name, seen, err
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// service builds a LoadBalancer Service with one port "web" (80 -> pods'
// 8080) per protocol given.
func service(name string, vips []netip.Addr, policy corev1.ServiceExternalTrafficPolicy, affinity bool, protos ...corev1.Protocol) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: policy,
		},
	}
	for _, p := range protos {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "web-" + strings.ToLower(string(p)), Port: 80, Protocol: p})
	}
	if affinity {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
	}
	for _, v := range vips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: v.String()})
	}
	return s
}

// ep is an endpoint for a slice: pod, and its conditions.
type ep struct {
	pod                *vlan.Host
	ready, terminating bool
	serving            bool
}

func readyEP(p *vlan.Host) ep { return ep{pod: p, ready: true, serving: true} }

// slicesFor builds the Service's EndpointSlices (one per family) with the
// pods' addresses and port 8080 for every protocol the Service has.
func slicesFor(svc *corev1.Service, eps ...ep) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, v6 := range []bool{false, true} {
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-" + fam(v6), Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		if v6 {
			sl.AddressType = discoveryv1.AddressTypeIPv6
		}
		for _, p := range svc.Spec.Ports {
			sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(p.Protocol), Port: ptr.To[int32](podPort)})
		}
		for _, e := range eps {
			a := e.pod.IPv4.Addr()
			if v6 {
				a = e.pod.IPv6.Addr()
			}
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{a.String()},
				NodeName:  ptr.To(e.pod.Node.Name),
				Conditions: discoveryv1.EndpointConditions{
					Ready: ptr.To(e.ready), Serving: ptr.To(e.serving), Terminating: ptr.To(e.terminating),
				},
			})
		}
		out = append(out, sl)
	}
	return out
}

func desired(node string, svc *corev1.Service, slices []*discoveryv1.EndpointSlice) datapath.State {
	return datapath.Desired(datapath.Inputs{Node: node, Services: []*corev1.Service{svc}, EndpointSlices: slices})
}

// isRefused reports a connection refused (TCP RST or ICMP port
// unreachable).
func isRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection refused")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
