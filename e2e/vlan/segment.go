package vlan

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Segment is the LAN: a Linux bridge in its own namespace. Hosts plug in
// with a veth whose bridge-side end is named after the host.
type Segment struct {
	NetNS      string // namespace holding the bridge
	Bridge     string // "br0"
	IPv4, IPv6 netip.Prefix

	lab *Lab
	ns  *namespace
}

// Exec runs a command in the LAN namespace (for example `bridge fdb show`).
func (s *Segment) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return s.ns.exec(ctx, name, args...)
}

// Start runs a long-running command (for example tcpdump -i br0) in the LAN
// namespace; see Host.Start.
func (s *Segment) Start(ctx context.Context, logPath, name string, args ...string) (*Process, error) {
	return s.lab.startProcess(ctx, s.ns, logPath, name, args...)
}

// lanSysctls keep the LAN namespace a pure layer 2 switch: no IPv6 on its
// ports (so it sends no MLD, RS or DAD frames of its own), and bridged
// frames skip netfilter (br_netfilter is built into this kernel and would
// otherwise pass bridged IPv4 through the namespace's iptables hooks).
var lanSysctls = [][2]string{
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{"net/ipv6/conf/default/disable_ipv6", "1"},
}

var brNetfilterSysctls = [][2]string{
	{"net/bridge/bridge-nf-call-iptables", "0"},
	{"net/bridge/bridge-nf-call-ip6tables", "0"},
	{"net/bridge/bridge-nf-call-arptables", "0"},
}

func (l *Lab) newSegment(ctx context.Context) (*Segment, error) {
	ns, err := l.newNamespace(ctx, "lan")
	if err != nil {
		return nil, err
	}
	s := &Segment{NetNS: ns.name, Bridge: "br0", IPv4: lanV4, IPv6: lanV6, lab: l, ns: ns}
	if err := ns.setSysctls(lanSysctls); err != nil {
		return nil, err
	}
	// The bridge sysctls exist only when br_netfilter is present.
	if err := ns.setSysctls(brNetfilterSysctls); err != nil && !isNotExist(err) {
		return nil, err
	}
	snooping := false
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs(), MulticastSnooping: &snooping}
	br.Name = s.Bridge
	// With multicast snooping off the bridge floods NDP's solicited-node
	// multicast to every port, like a plain switch; snooping without an
	// MLD querier would be a source of flaky neighbour discovery.
	if err := ns.nl.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("netns %s: add bridge %s: %w", ns.name, s.Bridge, err)
	}
	if err := ns.linkUp(s.Bridge); err != nil {
		return nil, err
	}
	return s, nil
}
