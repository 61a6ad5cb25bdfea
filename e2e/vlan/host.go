package vlan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Role is what a host is for.
type Role string

const (
	RoleRouter Role = "router"
	RoleNode   Role = "node"
	RoleClient Role = "client"
	RolePod    Role = "pod"
)

// Host is one network namespace with one interface into the lab.
type Host struct {
	Name  string
	Role  Role
	NetNS string // namespace name, for `ip netns exec`
	Iface string // its lab interface, "eth0"
	MAC   net.HardwareAddr
	// IPv4 and IPv6 are eth0's addresses with their prefix length
	// (198.51.100.11/24 on the LAN; /32 and /128 for pods).
	IPv4, IPv6 netip.Prefix
	// PodCIDRv4 and PodCIDRv6 are a node's pod subnets (node1 to node7
	// only); Node (for pods) is the node the pod sits behind.
	PodCIDRv4, PodCIDRv6 netip.Prefix
	Node                 *Host

	lab   *Lab
	ns    *namespace
	index int // nodes: 1-based number, picks the pod subnet
	// The other end of eth0: a bridge port in the LAN namespace, or the
	// node-side veth of a pod. SetLink acts there, like pulling a cable.
	peerNS   *namespace
	peerName string
}

// hostSysctls apply to every host namespace before its interface exists,
// so eth0 inherits them from "default".
var hostSysctls = [][2]string{
	// Addresses are usable at once: no duplicate address detection.
	{"net/ipv6/conf/all/accept_dad", "0"},
	{"net/ipv6/conf/default/accept_dad", "0"},
	{"net/ipv6/conf/all/dad_transmits", "0"},
	{"net/ipv6/conf/default/dad_transmits", "0"},
	// Keep IPv6 addresses when a link goes down, as IPv4 does.
	{"net/ipv6/conf/all/keep_addr_on_down", "1"},
	{"net/ipv6/conf/default/keep_addr_on_down", "1"},
	// No router discovery chatter; routes are static.
	{"net/ipv6/conf/all/accept_ra", "0"},
	{"net/ipv6/conf/default/accept_ra", "0"},
	{"net/ipv6/conf/all/router_solicitations", "0"},
	{"net/ipv6/conf/default/router_solicitations", "0"},
}

// routerSysctls apply to the router's namespace besides hostSysctls, the
// way an operator sets up a Linux router that spreads traffic over the
// nodes (ECMP) on the LAN its clients share:
//   - No ICMP redirects. The router forwards a client's packet back out
//     of the interface it came in on, so by default it tells the client
//     to send to the chosen node directly; the client then sends every
//     connection to that VIP to that one node for up to 300 s
//     (net.ipv4.route.gc_timeout), bypassing ECMP and BFD: a lost node
//     stays its next hop, a returning node never gets its traffic. IPv6 is
//     not affected (Linux redirects only to link-local targets, and the
//     BGP next hops are global addresses).
//   - Layer 4 hashing: each connection, not each client, picks its next
//     hop, as a top-of-rack switch does.
var routerSysctls = [][2]string{
	{"net/ipv4/conf/all/send_redirects", "0"},
	{"net/ipv4/conf/default/send_redirects", "0"},
	{"net/ipv4/fib_multipath_hash_policy", "1"},
	{"net/ipv6/fib_multipath_hash_policy", "1"},
}

// addLANHost creates a host namespace and plugs its eth0 into the bridge.
func (l *Lab) addLANHost(ctx context.Context, role Role, name string, octet int) (*Host, error) {
	ns, err := l.newNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	v4, v6 := lanAddrs(octet)
	h := &Host{
		Name: name, Role: role, NetNS: ns.name, Iface: "eth0", MAC: lanMAC(octet),
		IPv4: v4, IPv6: v6,
		lab: l, ns: ns, peerNS: l.LAN.ns, peerName: name,
	}
	if err := ns.setSysctls(hostSysctls); err != nil {
		return nil, err
	}
	if role == RoleRouter {
		if err := ns.setSysctls(routerSysctls); err != nil {
			return nil, err
		}
	}
	br, err := l.LAN.ns.nl.LinkByName(l.LAN.Bridge)
	if err != nil {
		return nil, fmt.Errorf("netns %s: find bridge: %w", l.LAN.NetNS, err)
	}
	// Created from the LAN side: the bridge port stays there under the
	// host's name, the peer lands in the host namespace as eth0.
	veth := netlink.NewVeth(netlink.NewLinkAttrs())
	veth.Name = name
	veth.MasterIndex = br.Attrs().Index
	veth.PeerName = h.Iface
	veth.PeerHardwareAddr = h.MAC
	veth.PeerNamespace = netlink.NsFd(int(ns.fd))
	if err := l.LAN.ns.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("netns %s: add veth %s <-> %s/%s: %w", l.LAN.NetNS, name, ns.name, h.Iface, err)
	}
	if err := h.configureIface(); err != nil {
		return nil, err
	}
	if err := l.LAN.ns.linkUp(name); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.hosts[name] = h
	l.mu.Unlock()
	return h, nil
}

// configureIface puts the host's addresses on eth0 and sets it up.
func (h *Host) configureIface() error {
	link, err := h.ns.nl.LinkByName(h.Iface)
	if err != nil {
		return fmt.Errorf("host %s: find %s: %w", h.Name, h.Iface, err)
	}
	for _, p := range []netip.Prefix{h.IPv4, h.IPv6} {
		a := &netlink.Addr{IPNet: prefixToIPNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.ns.nl.AddrAdd(link, a); err != nil {
			return fmt.Errorf("host %s: add %s to %s: %w", h.Name, p, h.Iface, err)
		}
	}
	if err := h.ns.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("host %s: set %s up: %w", h.Name, h.Iface, err)
	}
	return nil
}

// Exec runs a command inside the host's namespace and returns its combined
// output; a failure's error includes the output.
func (h *Host) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return h.ns.exec(ctx, name, args...)
}

// Start runs a long-running command inside the host's namespace, with
// stdout and stderr appended to logPath ("" discards them). The process is
// killed when ctx is done, when the lab closes, and (through Pdeathsig) when
// the test binary dies.
func (h *Host) Start(ctx context.Context, logPath, name string, args ...string) (*Process, error) {
	return h.lab.startProcess(ctx, h.ns, logPath, name, args...)
}

// Do runs fn with the namespace switched to the host's, on an OS thread of
// its own; sockets fn opens stay in the host's namespace. Goroutines that fn
// starts do not run in the namespace. See namespace.do for the guarantees.
func (h *Host) Do(fn func() error) error {
	return h.ns.do(fn)
}

// SetLink takes the host's link down or up at the far end (the bridge port,
// or the node side of a pod's veth), like pulling the cable: the host keeps
// its addresses and routes, sees its carrier go, and nothing passes. It
// returns once the host's own interface reports the new state.
func (h *Host) SetLink(up bool) error {
	link, err := h.peerNS.nl.LinkByName(h.peerName)
	if err != nil {
		return fmt.Errorf("host %s: find link peer %s: %w", h.Name, h.peerName, err)
	}
	if up {
		err = h.peerNS.nl.LinkSetUp(link)
	} else {
		err = h.peerNS.nl.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("host %s: set link up=%v: %w", h.Name, up, err)
	}
	if err := waitReady(context.Background(), up, ifRef{ns: h.ns, name: h.Iface}, ifRef{ns: h.peerNS, name: h.peerName}); err != nil {
		return fmt.Errorf("host %s: set link up=%v: %w", h.Name, up, err)
	}
	return nil
}

// AddRoute adds (or replaces) a route to dst via the gateway. An invalid
// via makes dst directly reachable on eth0.
func (h *Host) AddRoute(dst netip.Prefix, via netip.Addr) error {
	r, err := h.route(dst, via)
	if err != nil {
		return err
	}
	if err := h.ns.nl.RouteReplace(r); err != nil {
		return fmt.Errorf("host %s: route %s via %s: %w", h.Name, dst, via, err)
	}
	return nil
}

// DelRoute removes a route that AddRoute added.
func (h *Host) DelRoute(dst netip.Prefix, via netip.Addr) error {
	r, err := h.route(dst, via)
	if err != nil {
		return err
	}
	if err := h.ns.nl.RouteDel(r); err != nil {
		return fmt.Errorf("host %s: delete route %s via %s: %w", h.Name, dst, via, err)
	}
	return nil
}

func (h *Host) route(dst netip.Prefix, via netip.Addr) (*netlink.Route, error) {
	if !dst.IsValid() {
		return nil, fmt.Errorf("host %s: route: invalid destination prefix", h.Name)
	}
	dst = dst.Masked()
	r := &netlink.Route{Dst: prefixToIPNet(dst)}
	if via.IsValid() {
		if via.Is4() != dst.Addr().Is4() {
			return nil, fmt.Errorf("host %s: route %s via %s: families differ", h.Name, dst, via)
		}
		r.Gw = net.IP(via.AsSlice())
		return r, nil
	}
	link, err := h.ns.nl.LinkByName(h.Iface)
	if err != nil {
		return nil, fmt.Errorf("host %s: find %s: %w", h.Name, h.Iface, err)
	}
	r.LinkIndex = link.Attrs().Index
	r.Scope = netlink.SCOPE_LINK
	return r, nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

func isNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist)
}
