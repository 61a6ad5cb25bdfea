package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// The whole system: the cluster with the nftables datapath, FRR as the
// router between the client and the nodes, a layer 2 pool on the client's
// LAN and a BGP pool routed through the router, pods on every node and a
// dual-stack Service in each pool.
const (
	RouterASN  = 64500
	ClusterASN = 64512

	LANv4, LANv6 = "203.0.113.0/25", "2001:db8:300::/120"
	BGPv4, BGPv6 = "203.0.113.128/25", "2001:db8:300:1::/120"
)

// SystemOptions shape a System.
type SystemOptions struct {
	// BFD ties every BGP session to a BFD session (100 ms, 3 misses) on
	// both ends, so the router drops a lost node's next hop at once.
	BFD bool
	// LocalBGP adds the dual-stack Service "bgp-local" in the BGP pool with
	// externalTrafficPolicy Local.
	LocalBGP bool
	// LocalLAN adds the dual-stack Service "lan-local" in the layer 2 pool
	// with externalTrafficPolicy Local.
	LocalLAN bool
	// API is the API server to use; nil starts one for the test.
	API *kubeapi.Server
	// ControllerArgs and SpeakerArgs are appended to the processes' flags.
	ControllerArgs, SpeakerArgs []string
	// LogDir receives the processes' logs; default: the API server's dir.
	LogDir string
}

// System is the running whole.
type System struct {
	C      *Cluster
	Router *frr.Router
	// VIPs are port 80 of each Service's addresses ("lan", "bgp" and, with
	// LocalBGP and LocalLAN, "bgp-local" and "lan-local"), IPv4 first.
	VIPs map[string][]netip.AddrPort
	// Services are the Services' names in the order they were created.
	Services []string
	// Pods are the pods serving them, one per node.
	Pods []*Pod
}

// bfdInterval is the BFD profile's intervals with SystemOptions.BFD: three
// missed packets (300 ms) take a lost node's next hop away; 50 ms flapped on
// two loaded cores.
const bfdInterval = 100

// StartSystem starts the system and waits until the client reaches every
// VIP.
func StartSystem(t testing.TB, opts SystemOptions) *System {
	t.Helper()
	c := Start(t, Options{Router: true, Datapath: "nftables", API: opts.API, LogDir: opts.LogDir,
		ControllerArgs: append([]string{"-ip-mode", "Proxy"}, opts.ControllerArgs...), SpeakerArgs: opts.SpeakerArgs})
	ctx := context.Background()
	rt, cl := c.Lab.Router, c.Lab.Clients[0]
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"} {
		if out, err := rt.Exec(ctx, "sysctl", "-qw", kv); err != nil {
			t.Fatalf("router %s: %v: %s", kv, err, out)
		}
	}
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors,
			frr.Neighbor{Address: n.IPv4.Addr(), ASN: ClusterASN, BFD: opts.BFD},
			frr.Neighbor{Address: n.IPv6.Addr(), ASN: ClusterASN, BFD: opts.BFD})
	}
	ropts := frr.Options{ASN: RouterASN, Neighbors: neighbors, MaximumPaths: 8}
	if opts.BFD {
		ropts.BFD = frr.BFDTimers{ReceiveInterval: bfdInterval * time.Millisecond, TransmitInterval: bfdInterval * time.Millisecond, DetectMultiplier: 3}
	}
	r := frr.New(t, rt, ropts)
	// The layer 2 pool is on-link for the client; the BGP pool is routed
	// through the router.
	for _, route := range [][]string{
		{"route", "replace", LANv4, "dev", cl.Iface},
		{"-6", "route", "replace", "2001:db8:300::/64", "dev", cl.Iface},
		{"route", "replace", BGPv4, "via", rt.IPv4.Addr().String()},
		{"-6", "route", "replace", BGPv6, "via", rt.IPv6.Addr().String()},
	} {
		if out, err := cl.Exec(ctx, "ip", route...); err != nil {
			t.Fatalf("client ip %v: %v: %s", route, err, out)
		}
	}

	profile := ""
	if opts.BFD {
		profile = "fast"
		iv, mult := uint32(bfdInterval), uint32(3)
		c.Create(t, &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Name: profile},
			Spec: v1beta1.BFDProfileSpec{ReceiveInterval: &iv, TransmitInterval: &iv, DetectMultiplier: &mult}})
	}
	c.Create(t,
		Pool("lan", LANv4, LANv6),
		L2("lan", []string{"lan"}, "eth0"),
		Pool("bgp", BGPv4, BGPv6),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}},
		RouterPeer("tor", rt.IPv4.Addr(), profile),
		RouterPeer("tor-v6", rt.IPv6.Addr(), profile),
	)
	var pods []*Pod
	for _, n := range c.Lab.Nodes {
		pods = append(pods, c.StartPod(t, n.Name, "web-"+n.Name))
	}
	s := &System{C: c, Router: r, VIPs: map[string][]netip.AddrPort{}, Pods: pods}
	type svc struct {
		name, pool string
		opts       []ServiceOpt
	}
	svcs := []svc{{"lan", "lan", nil}, {"bgp", "bgp", nil}}
	if opts.LocalBGP {
		svcs = append(svcs, svc{"bgp-local", "bgp", []ServiceOpt{Local}})
	}
	if opts.LocalLAN {
		svcs = append(svcs, svc{"lan-local", "lan", []ServiceOpt{Local}})
	}
	for _, sv := range svcs {
		pool := sv.pool
		c.Create(t, LoadBalancer("default", sv.name, append([]ServiceOpt{DualStack, func(svc *corev1.Service) {
			svc.Annotations = map[string]string{"ironlb.io/address-pool": pool}
		}}, sv.opts...)...))
		c.SetEndpoints(t, "default", sv.name, Endpoints(pods...)...)
		for _, ip := range c.WaitForIPs(t, "default", sv.name, 2) {
			s.VIPs[sv.name] = append(s.VIPs[sv.name], netip.AddrPortFrom(ip, 80))
		}
		s.Services = append(s.Services, sv.name)
	}
	s.WaitAnswering(t, 60*time.Second)
	return s
}

// RouterPeer is a BGPPeer for the router (with a BFD profile unless
// profile is empty).
func RouterPeer(name string, addr netip.Addr, profile string) *v1beta1.BGPPeer {
	return &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.BGPPeerSpec{MyASN: ClusterASN, ASN: RouterASN, Address: addr.String(), BFDProfile: profile}}
}

// AllVIPs lists every Service's VIPs.
func (s *System) AllVIPs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, name := range s.Services {
		out = append(out, s.VIPs[name]...)
	}
	return out
}

// WaitAnswering waits until every VIP answers a request.
func (s *System) WaitAnswering(t testing.TB, timeout time.Duration) {
	t.Helper()
	for _, vip := range s.AllVIPs() {
		Eventually(t, timeout, "a request to "+vip.String(), func() error {
			return Request(context.Background(), s.C.Lab.Clients[0], vip, time.Second)
		})
	}
}

// Snapshot is what the network does for the Services: who holds which
// address, who announces it, which routes the router has and since when
// each session is up.
type Snapshot struct {
	IPs       map[string][]netip.Addr // Service -> addresses
	Announcer map[netip.Addr]string   // layer 2 address -> node
	Routes    map[netip.Prefix][]netip.Addr
	Sessions  map[netip.Addr]frr.NeighborStatus
}

// Snapshot reads the Services' addresses and layer 2 announcers (of
// Service "lan"), the router's routes and its sessions.
func (s *System) Snapshot(t testing.TB, services ...string) Snapshot {
	t.Helper()
	ctx := context.Background()
	out := Snapshot{IPs: map[string][]netip.Addr{}, Announcer: map[netip.Addr]string{}, Routes: map[netip.Prefix][]netip.Addr{}}
	for _, name := range services {
		var svc corev1.Service
		if err := s.C.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &svc); err != nil {
			t.Fatal(err)
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			ip := netip.MustParseAddr(in.IP)
			out.IPs[name] = append(out.IPs[name], ip)
			if name == "lan" {
				if st := s.C.L2Status(t, "default", name, ip); st != nil {
					out.Announcer[ip] = st.Status.Node
				}
			}
		}
	}
	for _, f := range []frr.Family{frr.IPv4, frr.IPv6} {
		routes, err := s.Router.Routes(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for p, r := range routes {
			out.Routes[p] = r.NextHops()
		}
	}
	var err error
	if out.Sessions, err = s.Router.Neighbors(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}

// SameNetwork reports what differs between two snapshots: addresses,
// announcers (a layer 2 address announced by nobody, or, with
// announcersMayMove false, by another node), routes and next hops;
// sessions that were up must have stayed up (uptime grew) unless resets are
// expected.
func SameNetwork(before, after Snapshot, announcersMayMove, sessionsMayReset bool) []string {
	var diffs []string
	for name, ips := range before.IPs {
		if !slices.Equal(ips, after.IPs[name]) {
			diffs = append(diffs, fmt.Sprintf("Service %s: addresses %v -> %v", name, ips, after.IPs[name]))
		}
	}
	for ip, node := range before.Announcer {
		switch now := after.Announcer[ip]; {
		case now == "":
			diffs = append(diffs, fmt.Sprintf("%s: announced by %s, now by nobody", ip, node))
		case now != node && !announcersMayMove:
			diffs = append(diffs, fmt.Sprintf("%s: announcement moved from %s to %s", ip, node, now))
		}
	}
	for p, hops := range before.Routes {
		if !slices.Equal(hops, after.Routes[p]) {
			diffs = append(diffs, fmt.Sprintf("route %s: next hops %v -> %v", p, hops, after.Routes[p]))
		}
	}
	for addr, st := range before.Sessions {
		now := after.Sessions[addr]
		switch {
		case !st.Established():
			// A session that was down (a lost node's) may stay down.
		case !now.Established():
			diffs = append(diffs, fmt.Sprintf("session %s: %s -> %s", addr, st.State, now.State))
		case !sessionsMayReset && now.Uptime < st.Uptime:
			diffs = append(diffs, fmt.Sprintf("session %s reset (uptime %v -> %v)", addr, st.Uptime, now.Uptime))
		}
	}
	return diffs
}

// WaitSessions waits until FRR has the sessions of these nodes (none:
// every node) Established in both families.
func (s *System) WaitSessions(t testing.TB, nodes ...string) {
	t.Helper()
	if len(nodes) == 0 {
		nodes = s.nodeNames()
	}
	Eventually(t, 60*time.Second, fmt.Sprintf("BGP sessions of %v Established", nodes), func() error {
		ns, err := s.Router.Neighbors(context.Background())
		if err != nil {
			return err
		}
		for _, n := range nodes {
			for _, a := range []netip.Addr{s.C.NodeAddr(n, false), s.C.NodeAddr(n, true)} {
				if !ns[a].Established() {
					return fmt.Errorf("%s (%s): %s", n, a, ns[a].State)
				}
			}
		}
		return nil
	})
}

// WaitBGPRoutes waits until the router has each address of the BGP
// Services with exactly these nodes (none: every node) as next hops. It
// reads only the router, so it works with the API server down.
func (s *System) WaitBGPRoutes(t testing.TB, nodes ...string) {
	t.Helper()
	if len(nodes) == 0 {
		nodes = s.nodeNames()
	}
	var ips []netip.Addr
	for _, name := range []string{"bgp", "bgp-local"} {
		for _, vip := range s.VIPs[name] {
			ips = append(ips, vip.Addr())
		}
	}
	Eventually(t, 60*time.Second, fmt.Sprintf("%v the next hops of every BGP address", nodes), func() error {
		got := s.Snapshot(t)
		for _, ip := range ips {
			var want []netip.Addr
			for _, n := range nodes {
				want = append(want, s.C.NodeAddr(n, ip.Is6()))
			}
			slices.SortFunc(want, netip.Addr.Compare)
			if hops := got.Routes[netip.PrefixFrom(ip, ip.BitLen())]; !slices.Equal(hops, want) {
				return fmt.Errorf("%s: next hops %v, want %v", ip, hops, want)
			}
		}
		return nil
	})
}

// WaitAnnounced waits until every route of the snapshot is back with all
// its next hops and every layer 2 address has an announcer.
func (s *System) WaitAnnounced(t testing.TB, want Snapshot) {
	t.Helper()
	Eventually(t, 60*time.Second, "every route and announcement back", func() error {
		got := s.Snapshot(t, s.Services...)
		for p, hops := range want.Routes {
			if !slices.Equal(hops, got.Routes[p]) {
				return fmt.Errorf("route %s: next hops %v, want %v", p, got.Routes[p], hops)
			}
		}
		for ip := range want.Announcer {
			if got.Announcer[ip] == "" {
				return fmt.Errorf("%s announced by nobody", ip)
			}
		}
		return nil
	})
}

func (s *System) nodeNames() []string {
	var out []string
	for _, n := range s.C.Lab.Nodes {
		out = append(out, n.Name)
	}
	return out
}
