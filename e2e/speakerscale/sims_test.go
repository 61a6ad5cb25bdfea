package speakerscale

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/speaker/members"
)

// Liveness timing of the real speaker and of the simulated ones. The
// simulated speakers share the test process, which also writes 10,000
// Services and their slices on a shared, loaded machine: a 3 s timeout
// keeps this process's stalls from passing for node losses
// (speaker/members doc.go: "or raise Timeout"; with 1 s, a run at a load
// average of 27 on 2 cores saw 16 false deaths while the Services were
// written).
const (
	membersInterval = 100 * time.Millisecond
	membersTimeout  = 3 * time.Second
)

// simFirstOctet is the last IPv4 octet of sim01 on the LAN: client
// addresses (.101 to .254) that the lab leaves free with one client.
const simFirstOctet = 150

// sims are the speakers of the other nodes: members.Members instances in
// this process, each bound to its own address on the client host's LAN
// interface, with the real speakers' key, so the real speaker holds their
// nodes alive. They speak only the liveness protocol.
type sims struct {
	names  []string
	stop   map[string]context.CancelFunc
	done   map[string]chan error
	member map[string]*members.Members
}

func simName(i int) string { return fmt.Sprintf("sim%02d", i+1) }

// startSims creates n Node objects and runs their speakers' liveness
// until the test ends; it returns once every simulated speaker sees all
// n+1 speakers alive (the real one included).
func startSims(tb testing.TB, c *cluster.Cluster, host *vlan.Host, n int, realNode string) *sims {
	tb.Helper()
	ctx := context.Background()
	key, err := os.ReadFile(c.MembersKeyFile())
	if err != nil {
		tb.Fatal(err)
	}
	s := &sims{stop: map[string]context.CancelFunc{}, done: map[string]chan error{}, member: map[string]*members.Members{}}
	tb.Cleanup(s.stopAll)
	peers := map[string]netip.AddrPort{realNode: netip.AddrPortFrom(c.NodeAddr(realNode, false), members.DefaultPort)}
	addrs := map[string]netip.Addr{}
	for i := range n {
		a := host.IPv4.Addr().As4()
		a[3] = byte(simFirstOctet + i)
		name := simName(i)
		addrs[name] = netip.AddrFrom4(a)
		peers[name] = netip.AddrPortFrom(addrs[name], members.DefaultPort)
		s.names = append(s.names, name)
	}
	if err := addAddrs(host, addrs); err != nil {
		tb.Fatal(err)
	}
	for _, name := range s.names {
		if err := createNode(ctx, c, name, addrs[name]); err != nil {
			tb.Fatal(err)
		}
	}
	listen := func(_ context.Context, network, address string) (net.PacketConn, error) {
		return host.ListenPacket(network, address)
	}
	for _, name := range s.names {
		m, err := members.New(members.Options{
			Node: name, Bind: peers[name], Interval: membersInterval, Timeout: membersTimeout,
			Secret: []byte(strings.TrimSpace(string(key))), ListenPacket: listen,
		})
		if err != nil {
			tb.Fatal(err)
		}
		if err := m.SetPeers(peers); err != nil {
			tb.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(runCtx) }()
		s.member[name], s.stop[name], s.done[name] = m, cancel, done
	}
	deadline := time.Now().Add(time.Minute)
	for _, name := range s.names {
		for len(s.member[name].Alive()) != n+1 {
			if time.Now().After(deadline) {
				tb.Fatalf("%s sees %d of %d speakers alive", name, len(s.member[name].Alive()), n+1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

// kill stops a simulated speaker without a leave: to the others it falls
// silent, as a node that lost power.
func (s *sims) kill(tb testing.TB, name string) {
	tb.Helper()
	s.stop[name]()
	if err := <-s.done[name]; err != nil {
		tb.Errorf("simulated speaker %s: %v", name, err)
	}
	delete(s.stop, name)
}

func (s *sims) stopAll() {
	for name, stop := range s.stop {
		stop()
		<-s.done[name]
	}
	s.stop = nil
}

// addAddrs puts the simulated speakers' addresses on the host's LAN
// interface (they go with its namespace).
func addAddrs(h *vlan.Host, addrs map[string]netip.Addr) error {
	return h.Do(func() error {
		link, err := netlink.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
		for _, a := range addrs {
			ipn := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(h.IPv4.Bits(), 32)}
			if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipn}); err != nil {
				return fmt.Errorf("host %s: add %s: %w", h.Name, a, err)
			}
		}
		return nil
	})
}

// createNode registers a Ready Node with addr as its InternalIP, where the
// real speaker's peer list looks for its liveness address.
func createNode(ctx context.Context, c *cluster.Cluster, name string, addr netip.Addr) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if err := c.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	node.Status = corev1.NodeStatus{
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: addr.String()}, {Type: corev1.NodeHostName, Address: name}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if err := c.Client.Status().Update(ctx, node); err != nil {
		return fmt.Errorf("set node %s status: %w", name, err)
	}
	return nil
}
