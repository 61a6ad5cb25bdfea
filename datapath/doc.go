// Package datapath computes what a node's load-balancing datapath must do
// for IronLB's Service VIPs, independent of the kernel mechanism that does it.
//
// IronLB publishes status.loadBalancer.ingress[].ipMode: Proxy, so kube-proxy
// leaves the VIPs alone and the speaker on every node maps VIP:port to the
// Service's endpoints itself. Desired turns Services and EndpointSlices into a
// State; a backend (datapath/nftables today, an IPVS backend later) programs
// it. Diff tells an incremental backend what changed between two States.
//
// # The State model
//
// A State is a set of virtual services, one per (VIP, port, protocol)
// (ServiceKey). Each VirtualService says how to pick a backend for a NEW
// connection; established connections are the kernel's business (conntrack,
// IPVS connection table) and must survive changes of the State:
//
//   - Backends: the endpoints this node may send to, keyed by address:port,
//     chosen as kube-proxy chooses them (terminating fallback, topology
//     hints for Cluster services; see backendsFor).
//     Weight > 0: eligible for new connections. Weight 0: draining (a
//     terminating endpoint that is still serving): keep its existing
//     connections, give it no new ones. An endpoint that disappears from the
//     map gets nothing any more; for connectionless protocols (UDP) backends
//     should also forget its flows so that the next datagram picks a live
//     backend.
//   - No backend with Weight > 0: the service accepts no new connection on
//     this node. Backends drop such packets when LocalOnly (the node should
//     not be receiving them; it does not announce the VIP), otherwise they
//     refuse them (TCP RST, ICMP port unreachable).
//   - Masquerade: source-NAT to the node's address (externalTrafficPolicy
//     Cluster) so replies come back through this node. Without it (Local)
//     backends see the client's address. Independently of this flag,
//     backends must masquerade a connection whose source is the chosen
//     backend itself (hairpin), or the reply would bypass the node.
//   - Scheduler and SchedulerFlags: IPVS scheduler names (rr, wrr, lc, wlc,
//     sh, mh) from the ironlb.io/scheduler annotation. Backends that cannot
//     implement one exactly approximate it and document how.
//   - Persistence: sessionAffinity ClientIP; a client goes to the same
//     backend for this long after its last new connection.
//   - Sources: spec.loadBalancerSourceRanges (or the older annotation).
//     When restricted, the first packet of a connection from a client
//     outside the ranges is dropped, before any other decision (even for a
//     service without backends); established connections are left alone,
//     as with kube-proxy. The filter is per virtual service, so Services
//     sharing a VIP keep their own ranges on their own ports.
//
// Any port of a VIP that is not a key of the State must be refused; packets to
// addresses that are no VIP of the State must not be touched.
//
// Which VIPs to program: the caller passes every Service with IronLB VIPs,
// on every node, announced here or not. Traffic only arrives where a VIP is
// announced, and programming all of them keeps failover instant: the node
// that takes over an announcement already has the rules.
//
// Bad input never panics: it is reported in State.Problems, naming the object
// and the field, and the offending part is skipped or defaulted.
package datapath
