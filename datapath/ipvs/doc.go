// Package ipvs programs a datapath.State into the kernel's IP Virtual Server
// (IPVS), the alternative to datapath/nftables for nodes that prefer
// IPVS's schedulers (rr, wrr, lc, wlc, sh, mh) and connection table.
//
// # What it builds
//
//   - One IPVS virtual service per (VIP, port, protocol), forwarding in NAT
//     ("masquerading") mode to the endpoints' address:port, with the
//     State's scheduler, sh-/mh- flags and ClientIP persistence.
//   - Every VIP as a /32 or /128 on an IronLB-owned dummy interface
//     (ironlb0): IPVS only sees packets addressed to a local address.
//   - An nf_tables table of its own (inet ironlb-ipvs) that masquerades
//     Cluster traffic (IPVS NAT rewrites the destination only), masquerades
//     hairpin connections, drops traffic for Local services that have no
//     local endpoint, drops new connections from clients outside a
//     Service's loadBalancerSourceRanges (an interval set keyed by VIP,
//     protocol, port and source range), and refuses every other port of a
//     VIP. Set elements are added before IPVS changes and removed after,
//     so while ranges are narrowed the old ranges still admit for the
//     milliseconds of the IPVS update; a restriction that appears, or a
//     new restricted service, is in force from its first packet.
//
// # Ownership
//
// Only IPVS services whose address is an IronLB VIP are touched: a VIP of
// the State, an address on the dummy interface (a previous instance's VIPs,
// which is what lets a restart clean up Services deleted meanwhile), or an
// address inside Options.VIPPrefixes. Foreign services (kube-proxy's, a
// firewall-mark service) and other nftables tables are never read for
// changes nor modified.
//
// # VIPs and ARP
//
// The VIPs are bound to the dummy interface with noprefixroute (and nodad
// for IPv6), and net.ipv4.conf.all.arp_ignore=1 makes the kernel answer ARP
// only for addresses of the interface the request arrived on, so it never
// answers for a VIP: IronLB's own responder (speaker/layer2) decides which
// node owns a VIP. "all" rather than the LAN interface because the effective
// value is the maximum of "all" and the interface's, and a node's LAN
// interfaces (bonds, VLANs) may appear after start; this is what kube-proxy's
// strictARP does too. arp_announce=2 keeps the kernel from using a VIP as
// the sender address of its own ARP requests (replies to clients leave with
// the VIP as source), which would teach neighbours a VIP->MAC mapping behind
// the responder's back. For IPv6 the kernel answers neighbour solicitations
// only for addresses on the receiving interface (unless proxy_ndp has an
// entry), so VIPs on the dummy are never answered for; the VM tests check
// both families.
//
// # Source NAT
//
// IPVS NAT mode rewrites only the destination, so for externalTrafficPolicy
// Cluster the reply of a remote endpoint would go straight to the client.
// The table's input chain (priority 0, before IPVS's LOCAL_IN hooks at
// 98/99) marks the first packet of connections to Cluster services with
// Options.Mark; the postrouting NAT chain masquerades marked packets, which
// works because net.ipv4.vs.conntrack=1 keeps IPVS connections in conntrack
// (kube-proxy's IPVS mode does the same). Connections from the node itself
// meet IPVS at LOCAL_OUT and never pass input, so an output chain (priority
// mangle) marks those too. Local services are not marked: endpoints see the
// client's address.
//
// # Sysctls
//
// In the backend's network namespace: net.ipv4.vs.conntrack=1 (above),
// net.ipv4.vs.expire_nodest_conn=1 (a removed endpoint's connections end at
// their next packet, so a UDP client is rescheduled), and
// net.ipv4.vs.expire_quiescent_template=1 (a persistence template pointing at
// a weight-0 endpoint expires, so session affinity never sends new
// connections to a draining endpoint), plus the two ARP settings. Each is
// written only if it differs. IP forwarding is needed for replies of remote
// endpoints but belongs to the node's network setup (turning IPv6 forwarding
// on drops routes learned from router advertisements): it is checked and
// logged, not changed.
//
// # Endpoints that go away
//
// An endpoint that leaves the State is removed at once for UDP (and its
// conntrack entries deleted, or the next datagram of a flow would follow the
// stale entry). For TCP and SCTP it is kept with weight 0 (no new
// connections) until IPVS counts no connection to it (ActiveConn +
// InActConn) or Options.DrainTimeout has passed; Run polls that. An
// endpoint that is in the State with weight 0 (terminating but serving) is
// kept for as long as the State keeps it.
//
// # Drift
//
// Something else on the node may delete IronLB's IPVS services (`ipvsadm
// -C`), real servers (`ipvsadm -d`) or change their weights, its VIP
// addresses or the dummy interface, or flush the nftables ruleset or one
// of its chains. Run checks every Options.CheckInterval (1 s) with reads
// whose cost does not grow with destinations: the interface and its
// addresses, the IPVS service list, the nftables table's rules (a fixed
// few per chain; services are set elements), and the destinations of the
// next 1/60 of the services (at least 16; auditBatch), so every service's
// real servers are compared within about a minute. planDrift (pure) names
// what differs from the backend's view of the kernel; only that is
// re-read and rewritten (a deleted VIP address or real server costs one
// write). Changed set elements, and a rule replaced by another in the
// same chain, are found by the full Resync every Options.ResyncPeriod.
//
// # The netlink library
//
// github.com/moby/ipvs blocks forever when a netlink reply is lost and
// reports success when IPVS is absent (moby/ipvs#27). Every call goes
// through one mutex-serialised handle with a deadline; on a timeout the
// handle is closed and replaced. Available probes for real: /proc/net/ip_vs
// must exist and a throw-away firewall-mark service must be listed after it
// is created.
package ipvs
