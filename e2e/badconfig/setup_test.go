// Package badconfig_test checks that bad configuration objects change
// nothing that runs, before and after every component restarts, on the
// whole system: a real API server, three speakers with the nftables
// datapath on a virtual LAN, FRR as the router, pods behind the nodes and a
// client sending steady traffic to every VIP.
package badconfig_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

const (
	routerASN  = 64500
	clusterASN = 64512

	lanV4, lanV6 = "203.0.113.0/25", "2001:db8:300::/120"
	bgpV4, bgpV6 = "203.0.113.128/25", "2001:db8:300:1::/120"
)

// system is the running whole.
type system struct {
	c      *cluster.Cluster
	router *frr.Router
	// vips are the Services' addresses, port 80, layer 2 and BGP, both
	// families.
	vips []netip.AddrPort
}

// startSystem starts the cluster with a layer 2 pool "lan" and a BGP pool
// "bgp", a dual-stack Cluster Service on each with a pod on every node, and
// waits until the client reaches every VIP.
func startSystem(t *testing.T) *system {
	t.Helper()
	c := cluster.Start(t, cluster.Options{Router: true, Datapath: "nftables", ControllerArgs: []string{"-ip-mode", "Proxy"}})
	ctx := context.Background()
	rt, client := c.Lab.Router, c.Lab.Clients[0]
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"} {
		if out, err := rt.Exec(ctx, "sysctl", "-qw", kv); err != nil {
			t.Fatalf("router %s: %v: %s", kv, err, out)
		}
	}
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors,
			frr.Neighbor{Address: n.IPv4.Addr(), ASN: clusterASN},
			frr.Neighbor{Address: n.IPv6.Addr(), ASN: clusterASN})
	}
	r := frr.New(t, rt, frr.Options{ASN: routerASN, Neighbors: neighbors, MaximumPaths: 8})
	// The layer 2 pool is on-link for the client; the BGP pool is routed
	// through the router.
	for _, route := range [][]string{
		{"route", "replace", lanV4, "dev", client.Iface},
		{"-6", "route", "replace", "2001:db8:300::/64", "dev", client.Iface},
		{"route", "replace", bgpV4, "via", rt.IPv4.Addr().String()},
		{"-6", "route", "replace", bgpV6, "via", rt.IPv6.Addr().String()},
	} {
		if out, err := client.Exec(ctx, "ip", route...); err != nil {
			t.Fatalf("client ip %v: %v: %s", route, err, out)
		}
	}

	c.Create(t,
		cluster.Pool("lan", lanV4, lanV6),
		cluster.L2("lan", []string{"lan"}, "eth0"),
		cluster.Pool("bgp", bgpV4, bgpV6),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}},
		peer("tor", rt.IPv4.Addr()),
		peer("tor-v6", rt.IPv6.Addr()),
	)
	var pods []*cluster.Pod
	for _, n := range c.Lab.Nodes {
		pods = append(pods, c.StartPod(t, n.Name, "web-"+n.Name))
	}
	s := &system{c: c, router: r}
	for _, name := range []string{"lan", "bgp"} {
		c.Create(t, cluster.LoadBalancer("default", name, cluster.DualStack, func(svc *corev1.Service) {
			svc.Annotations = map[string]string{"ironlb.io/address-pool": name}
		}))
		c.SetEndpoints(t, "default", name, cluster.Endpoints(pods...)...)
		for _, ip := range c.WaitForIPs(t, "default", name, 2) {
			s.vips = append(s.vips, netip.AddrPortFrom(ip, 80))
		}
	}
	s.waitAnswering(t, 60*time.Second)
	return s
}

func peer(name string, addr netip.Addr) *v1beta1.BGPPeer {
	return &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.BGPPeerSpec{MyASN: clusterASN, ASN: routerASN, Address: addr.String()}}
}

// waitAnswering waits until every VIP answers a request.
func (s *system) waitAnswering(t *testing.T, timeout time.Duration) {
	t.Helper()
	for _, vip := range s.vips {
		cluster.Eventually(t, timeout, "a request to "+vip.String(), func() error {
			return cluster.Request(context.Background(), s.c.Lab.Clients[0], vip, time.Second)
		})
	}
}

// snapshot is what the network does for the valid objects: who holds which
// address, who announces it, which routes the router has and since when
// each session is up.
type snapshot struct {
	ips       map[string][]netip.Addr // Service -> addresses
	announcer map[netip.Addr]string   // layer 2 address -> node
	routes    map[netip.Prefix][]netip.Addr
	sessions  map[netip.Addr]frr.NeighborStatus
}

func (s *system) snapshot(t *testing.T, services ...string) snapshot {
	t.Helper()
	ctx := context.Background()
	out := snapshot{ips: map[string][]netip.Addr{}, announcer: map[netip.Addr]string{}, routes: map[netip.Prefix][]netip.Addr{}}
	for _, name := range services {
		var svc corev1.Service
		if err := s.c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, &svc); err != nil {
			t.Fatal(err)
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			ip := netip.MustParseAddr(in.IP)
			out.ips[name] = append(out.ips[name], ip)
			if name == "lan" {
				if st := s.c.L2Status(t, "default", name, ip); st != nil {
					out.announcer[ip] = st.Status.Node
				}
			}
		}
	}
	for _, f := range []frr.Family{frr.IPv4, frr.IPv6} {
		routes, err := s.router.Routes(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for p, r := range routes {
			out.routes[p] = r.NextHops()
		}
	}
	var err error
	if out.sessions, err = s.router.Neighbors(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameNetwork reports what differs between two snapshots: addresses,
// announcers, routes and next hops; sessions must have stayed up (uptime
// grew) unless resets are expected.
func sameNetwork(before, after snapshot, sessionsMayReset bool) []string {
	var diffs []string
	for name, ips := range before.ips {
		if !slices.Equal(ips, after.ips[name]) {
			diffs = append(diffs, fmt.Sprintf("Service %s: addresses %v -> %v", name, ips, after.ips[name]))
		}
	}
	for ip, node := range before.announcer {
		if after.announcer[ip] == "" {
			diffs = append(diffs, fmt.Sprintf("%s: announced by %s, now by nobody", ip, node))
		}
	}
	for p, hops := range before.routes {
		if !slices.Equal(hops, after.routes[p]) {
			diffs = append(diffs, fmt.Sprintf("route %s: next hops %v -> %v", p, hops, after.routes[p]))
		}
	}
	for addr, st := range before.sessions {
		now := after.sessions[addr]
		if !now.Established() {
			diffs = append(diffs, fmt.Sprintf("session %s: %s -> %s", addr, st.State, now.State))
		} else if !sessionsMayReset && now.Uptime < st.Uptime {
			diffs = append(diffs, fmt.Sprintf("session %s reset (uptime %v -> %v)", addr, st.Uptime, now.Uptime))
		}
	}
	return diffs
}

// condition returns the Valid condition of a configuration object.
func (s *system) condition(t *testing.T, obj client.Object) *metav1.Condition {
	t.Helper()
	if err := s.c.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *v1beta1.IPAddressPool:
		conds = o.Status.Conditions
	case *v1beta1.L2Advertisement:
		conds = o.Status.Conditions
	case *v1beta1.BGPAdvertisement:
		conds = o.Status.Conditions
	case *v1beta1.BGPPeer:
		conds = o.Status.Conditions
	case *v1beta1.Community:
		conds = o.Status.Conditions
	case *v1beta1.BFDProfile:
		conds = o.Status.Conditions
	}
	return meta.FindStatusCondition(conds, v1beta1.ConditionValid)
}

// waitValid waits until obj's Valid condition has the status and, when
// invalid, names field.
func (s *system) waitValid(t *testing.T, obj client.Object, valid bool, field string) {
	t.Helper()
	want := metav1.ConditionFalse
	if valid {
		want = metav1.ConditionTrue
	}
	cluster.Eventually(t, 30*time.Second, fmt.Sprintf("%T %s Valid=%s naming %q", obj, obj.GetName(), want, field), func() error {
		c := s.condition(t, obj)
		switch {
		case c == nil:
			return fmt.Errorf("no Valid condition")
		case c.Status != want:
			return fmt.Errorf("Valid=%s: %s", c.Status, c.Message)
		case c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("condition of generation %d, object at %d", c.ObservedGeneration, obj.GetGeneration())
		case !valid && !strings.Contains(c.Message, field):
			return fmt.Errorf("message %q does not name %s", c.Message, field)
		}
		return nil
	})
}
