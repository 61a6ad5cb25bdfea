package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// ASNs of the BGP mode: the router (top of rack) and the cluster (eBGP).
const (
	routerASN  = 64500
	clusterASN = 64512
)

// bgpMode advertises each IP from every eligible node to FRR in the router
// namespace, which routes the client's traffic to them (ECMP).
type bgpMode struct{}

func (bgpMode) Name() string { return "BGP" }

func (bgpMode) Pool() *v1beta1.IPAddressPool {
	p := cluster.Pool("lab-bgp", bgpPoolV4, bgpPoolV6)
	p.Spec.AvoidBuggyIPs = true
	return p
}

func (b bgpMode) Objects() []client.Object {
	peer := func(name, addr string) *v1beta1.BGPPeer {
		return &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1beta1.BGPPeerSpec{MyASN: clusterASN, ASN: routerASN, Address: addr}}
	}
	return []client.Object{
		peer("tor", routerV4),
		peer("tor-v6", routerV6),
		// Local Services' routes carry each node's share of the pods
		// (link bandwidth), which FRR weights its ECMP by.
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "lab-bgp"},
			Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{b.Pool().Name}, EndpointWeightedECMP: true}},
	}
}

// Prepare starts FRR (zebra, bfdd, bgpd) in the router namespace with a
// session to every node over both families, makes the router forward, and
// routes the BGP pool from the clients through it.
func (bgpMode) Prepare(ctx context.Context, lan *vlan.Lab, env *labEnv) error {
	rt := lan.Router
	if rt == nil {
		return fmt.Errorf("no router namespace")
	}
	if rt.IPv4.Addr().String() != routerV4 || rt.IPv6.Addr().String() != routerV6 {
		return fmt.Errorf("router has %s and %s, the BGPPeers say %s and %s", rt.IPv4.Addr(), rt.IPv6.Addr(), routerV4, routerV6)
	}
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"} {
		if _, err := rt.Exec(ctx, "sysctl", "-qw", kv); err != nil {
			return fmt.Errorf("router: %w", err)
		}
	}
	var neighbors []frr.Neighbor
	for _, n := range lan.Nodes {
		neighbors = append(neighbors,
			frr.Neighbor{Address: n.IPv4.Addr(), ASN: clusterASN},
			frr.Neighbor{Address: n.IPv6.Addr(), ASN: clusterASN})
	}
	r, err := frr.Start(ctx, rt, frr.Options{ASN: routerASN, Neighbors: neighbors})
	if err != nil {
		return err
	}
	env.closers = append(env.closers, r.Close)
	env.RouterDir = r.Dir
	for _, h := range lan.Clients {
		for _, rr := range [][2]string{{bgpPoolV4, routerV4}, {bgpPoolV6, routerV6}} {
			if _, err := h.Exec(ctx, "ip", "route", "replace", rr[0], "via", rr[1]); err != nil {
				return fmt.Errorf("route %s via %s on %s: %w", rr[0], rr[1], h.Name, err)
			}
		}
	}
	return nil
}

// Announcers are the next hops FRR holds for the IP: the router's view is
// the truth of what is advertised.
func (bgpMode) Announcers(ctx context.Context, v view, _, _ string, ip netip.Addr) ([]string, error) {
	if v.RouterDir == "" {
		return nil, fmt.Errorf("no router directory")
	}
	// Route needs only the vty sockets in Dir (and a name for messages),
	// so a process that does not own the router can ask it too.
	r := &frr.Router{Dir: v.RouterDir, Host: &vlan.Host{Name: "router"}}
	route, ok, err := r.Route(ctx, netip.PrefixFrom(ip, ip.BitLen()))
	if err != nil || !ok {
		return nil, err
	}
	var nodes []string
	for _, nh := range route.NextHops() {
		name := v.Names[nh.String()]
		if name == "" {
			name = nh.String()
		}
		nodes = append(nodes, name)
	}
	slices.Sort(nodes)
	return slices.Compact(nodes), nil
}

// Every node advertises a Cluster Service, the nodes with a pod a Local one.
func (bgpMode) Settled(s demoService, nodes, announcers []string) error {
	want := nodes
	if s.Local {
		want = s.podNodes()
	}
	if !slices.Equal(announcers, want) {
		return fmt.Errorf("routed to %v, want %v", announcers, want)
	}
	return nil
}

// Ready: every node reports every session Established.
func (b bgpMode) Ready(ctx context.Context, v view, nodes []string) error {
	var list v1beta1.BGPSessionStatusList
	if err := v.API.List(ctx, &list); err != nil {
		return fmt.Errorf("list BGPSessionStatus: %w", err)
	}
	var peers []string
	for _, o := range b.Objects() {
		if p, ok := o.(*v1beta1.BGPPeer); ok {
			peers = append(peers, p.Name)
		}
	}
	established := map[string]bool{}
	for _, st := range list.Items {
		if st.Status.State == "Established" {
			established[st.Status.Node+"/"+st.Status.Peer] = true
		}
	}
	var missing []string
	for _, n := range nodes {
		for _, p := range peers {
			if !established[n+"/"+p] {
				missing = append(missing, n+"/"+p)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sessions not reported Established yet: %v", missing)
	}
	return nil
}

// RouterWeights are the weights the router's RIB gives each next hop
// (node name) of ip: endpoint-weighted ECMP in the router's own words.
func routerWeights(ctx context.Context, v view, ip netip.Addr) (map[string]int, error) {
	if v.RouterDir == "" {
		return nil, fmt.Errorf("no router directory")
	}
	r := &frr.Router{Dir: v.RouterDir, Host: &vlan.Host{Name: "router"}}
	fam := "ip"
	if ip.Is6() {
		fam = "ipv6"
	}
	prefix := netip.PrefixFrom(ip, ip.BitLen()).String()
	var rib map[string][]struct {
		Selected bool `json:"selected"`
		Nexthops []struct {
			IP     string `json:"ip"`
			Weight int    `json:"weight"`
			Active bool   `json:"active"`
		} `json:"nexthops"`
	}
	if err := r.JSON(ctx, frr.Zebra, fmt.Sprintf("show %s route %s json", fam, prefix), &rib); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, route := range rib[prefix] {
		if !route.Selected {
			continue
		}
		for _, nh := range route.Nexthops {
			if !nh.Active {
				continue
			}
			name := v.Names[nh.IP]
			if name == "" {
				name = nh.IP
			}
			out[name] = nh.Weight
		}
	}
	return out, nil
}

// renderWeights prints, for every BGP Local Service IP, the weights the
// router gives its nodes.
func renderWeights(ctx context.Context, w io.Writer, v view, rows []row) {
	header := false
	for _, r := range rows {
		ip, err := netip.ParseAddr(r.IP)
		if r.Mode != "BGP" || r.Policy != "Local" || err != nil {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nEndpoint-weighted ECMP: the router's next-hop weights for the BGP Local Services (each node's share of the pods):")
			header = true
		}
		weights, err := routerWeights(ctx, v, ip)
		if err != nil {
			fmt.Fprintf(w, "  %s %s: %v\n", r.Service, r.IP, err)
			continue
		}
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(weights)) {
			parts = append(parts, fmt.Sprintf("%s=%d", n, weights[n]))
		}
		fmt.Fprintf(w, "  %s %s weights %s\n", r.Service, r.IP, strings.Join(parts, " "))
	}
}
