package vlan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var podNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)

// nodeForwarding makes a node route between its LAN and its pods.
var nodeForwarding = [][2]string{
	{"net/ipv4/ip_forward", "1"},
	{"net/ipv6/conf/all/forwarding", "1"},
}

// AddPod creates a "pod": a namespace behind node, joined to it by a routed
// veth pair (no bridge, as with Calico or Cilium). The pod's eth0 has v4/32
// and v6/128 from the node's pod subnets and routes everything through the
// node (the node-side veth holds the subnet's first IPv4 address and
// fe80::1); the node routes each pod address to its veth and forwards.
//
// Invalid v4 picks the lowest free address of node.PodCIDRv4; invalid v6
// mirrors the IPv4 host number (192.0.2.18 -> 2001:db8:200:1::18). Other
// hosts reach pods with a route via the node, e.g.
// client.AddRoute(node.PodCIDRv4, node.IPv4.Addr()).
func (l *Lab) AddPod(node *Host, name string, v4, v6 netip.Addr) (*Host, error) {
	ctx := context.Background()
	l.podMu.Lock()
	defer l.podMu.Unlock()

	if node == nil || node.lab != l || node.Role != RoleNode {
		return nil, fmt.Errorf("vlan: AddPod %q: node must be a node of lab %s", name, l.Name)
	}
	if !node.PodCIDRv4.IsValid() {
		_, _, err := podSubnets(node.index)
		return nil, fmt.Errorf("vlan: AddPod %q: %w", name, err)
	}
	if !podNamePattern.MatchString(name) || name == "lan" {
		return nil, fmt.Errorf("vlan: AddPod: name %q must match %s and not be \"lan\"", name, podNamePattern)
	}
	if l.Host(name) != nil {
		return nil, fmt.Errorf("vlan: AddPod: host %q exists", name)
	}
	v4, v6, err := l.podAddrs(node, v4, v6)
	if err != nil {
		return nil, fmt.Errorf("vlan: AddPod %q: %w", name, err)
	}

	ns, err := l.newNamespace(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("vlan: AddPod %q: %w", name, err)
	}
	l.mu.Lock()
	l.podIfaces++
	nodeIf := fmt.Sprintf("vpod%d", l.podIfaces)
	l.mu.Unlock()
	octet := v4.As4()[3]
	h := &Host{
		Name: name, Role: RolePod, NetNS: ns.name, Iface: "eth0", MAC: podMAC(octet),
		IPv4: netip.PrefixFrom(v4, 32), IPv6: netip.PrefixFrom(v6, 128), Node: node,
		lab: l, ns: ns, peerNS: node.ns, peerName: nodeIf,
	}
	if err := l.wirePod(node, h, octet); err != nil {
		// Deleting the pod namespace also deletes the node-side veth.
		return nil, fmt.Errorf("vlan: AddPod %q on %s: %w", name, node.Name, errors.Join(err, l.dropNamespace(ns)))
	}
	l.mu.Lock()
	l.hosts[name] = h
	l.pods = append(l.pods, h)
	l.mu.Unlock()
	return h, nil
}

// podAddrs fills in and checks a pod's addresses.
func (l *Lab) podAddrs(node *Host, v4, v6 netip.Addr) (netip.Addr, netip.Addr, error) {
	used := map[netip.Addr]bool{}
	l.mu.Lock()
	for _, p := range l.pods {
		used[p.IPv4.Addr()] = true
		used[p.IPv6.Addr()] = true
	}
	l.mu.Unlock()
	first := node.PodCIDRv4.Addr().Next().Next() // network, gateway, then pods
	last := netip.AddrFrom4([4]byte{192, 0, 2, node.PodCIDRv4.Addr().As4()[3] + 14})
	if !v4.IsValid() {
		for a := first; a.Compare(last) <= 0; a = a.Next() {
			if !used[a] {
				v4 = a
				break
			}
		}
		if !v4.IsValid() {
			return v4, v6, fmt.Errorf("pod subnet %s of %s is full", node.PodCIDRv4, node.Name)
		}
	}
	v4 = v4.Unmap()
	if !v4.Is4() || !node.PodCIDRv4.Contains(v4) || v4.Less(first) || last.Less(v4) {
		return v4, v6, fmt.Errorf("IPv4 %s is not a pod address of %s (%s to %s)", v4, node.Name, first, last)
	}
	if !v6.IsValid() {
		v6 = mirrorV6(node.PodCIDRv6, int(v4.As4()[3]))
	}
	if !v6.Is6() || v6.Is4In6() || !node.PodCIDRv6.Contains(v6) || v6 == node.PodCIDRv6.Addr() {
		return v4, v6, fmt.Errorf("IPv6 %s is not a pod address of %s (in %s)", v6, node.Name, node.PodCIDRv6)
	}
	if used[v4] || used[v6] {
		return v4, v6, fmt.Errorf("address %s or %s is taken by another pod", v4, v6)
	}
	return v4, v6, nil
}

// wirePod creates and configures the veth pair between node and pod.
func (l *Lab) wirePod(node, pod *Host, octet byte) error {
	gw4 := node.PodCIDRv4.Addr().Next()
	if err := node.ns.setSysctls(nodeForwarding); err != nil {
		return err
	}
	if err := pod.ns.setSysctls(hostSysctls); err != nil {
		return err
	}
	veth := netlink.NewVeth(netlink.NewLinkAttrs())
	veth.Name = pod.peerName
	veth.HardwareAddr = podGatewayMAC(octet)
	veth.PeerName = pod.Iface
	veth.PeerHardwareAddr = pod.MAC
	veth.PeerNamespace = netlink.NsFd(int(pod.ns.fd))
	if err := node.ns.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("netns %s: add veth %s <-> %s/%s: %w", node.NetNS, pod.peerName, pod.NetNS, pod.Iface, err)
	}

	// Node side: gateway addresses, then a route to the pod.
	nodeLink, err := node.ns.nl.LinkByName(pod.peerName)
	if err != nil {
		return fmt.Errorf("netns %s: find %s: %w", node.NetNS, pod.peerName, err)
	}
	// A peer address: local gw4, remote pod v4, and the kernel adds the
	// /32 route to the pod by itself.
	if err := node.ns.nl.AddrAdd(nodeLink, &netlink.Addr{
		IPNet: prefixToIPNet(netip.PrefixFrom(gw4, 32)),
		Peer:  prefixToIPNet(pod.IPv4),
	}); err != nil {
		return fmt.Errorf("netns %s: address %s peer %s on %s: %w", node.NetNS, gw4, pod.IPv4, pod.peerName, err)
	}
	if err := node.ns.nl.AddrAdd(nodeLink, &netlink.Addr{
		IPNet: prefixToIPNet(netip.PrefixFrom(podGatewayV6, 64)),
		Flags: unix.IFA_F_NODAD,
	}); err != nil {
		return fmt.Errorf("netns %s: address %s on %s: %w", node.NetNS, podGatewayV6, pod.peerName, err)
	}
	if err := node.ns.nl.LinkSetUp(nodeLink); err != nil {
		return fmt.Errorf("netns %s: set %s up: %w", node.NetNS, pod.peerName, err)
	}
	if err := node.ns.nl.RouteReplace(&netlink.Route{LinkIndex: nodeLink.Attrs().Index, Dst: prefixToIPNet(pod.IPv6)}); err != nil {
		return fmt.Errorf("netns %s: route %s dev %s: %w", node.NetNS, pod.IPv6, pod.peerName, err)
	}

	// Pod side.
	podLink, err := pod.ns.nl.LinkByName(pod.Iface)
	if err != nil {
		return fmt.Errorf("netns %s: find %s: %w", pod.NetNS, pod.Iface, err)
	}
	if err := pod.ns.nl.AddrAdd(podLink, &netlink.Addr{
		IPNet: prefixToIPNet(pod.IPv4),
		Peer:  prefixToIPNet(netip.PrefixFrom(gw4, 32)),
	}); err != nil {
		return fmt.Errorf("netns %s: address %s peer %s: %w", pod.NetNS, pod.IPv4, gw4, err)
	}
	if err := pod.ns.nl.AddrAdd(podLink, &netlink.Addr{IPNet: prefixToIPNet(pod.IPv6), Flags: unix.IFA_F_NODAD}); err != nil {
		return fmt.Errorf("netns %s: address %s: %w", pod.NetNS, pod.IPv6, err)
	}
	if err := pod.ns.nl.LinkSetUp(podLink); err != nil {
		return fmt.Errorf("netns %s: set %s up: %w", pod.NetNS, pod.Iface, err)
	}
	for _, r := range []*netlink.Route{
		{LinkIndex: podLink.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, Gw: net.IP(gw4.AsSlice())},
		{LinkIndex: podLink.Attrs().Index, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, Gw: net.IP(podGatewayV6.AsSlice())},
	} {
		if err := pod.ns.nl.RouteReplace(r); err != nil {
			return fmt.Errorf("netns %s: default route via %s: %w", pod.NetNS, r.Gw, err)
		}
	}
	return waitReady(context.Background(), true,
		ifRef{ns: pod.ns, name: pod.Iface, v6: []netip.Addr{pod.IPv6.Addr()}},
		ifRef{ns: node.ns, name: pod.peerName, v6: []netip.Addr{podGatewayV6}})
}

// Pods returns the pods added so far.
func (l *Lab) Pods() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.pods...)
}
