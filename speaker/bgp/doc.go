// Package bgp is the BGP engine of the IronLB speaker: it announces
// Service IPs to the node's BGP peers (top-of-rack routers) through an
// embedded GoBGP v4 server.
//
// It takes plain, already compiled inputs (Peer, Route), never Kubernetes
// objects, so it is tested without a cluster. Every SetPeers and SetRoutes
// call states the complete desired set and is applied at once, with no
// debounce: only the differences reach GoBGP, and from it the wire (see
// BenchmarkRouteVisible), and a change never resets a session it does not
// concern.
//
// # One private VRF per peer
//
// GoBGP has one RIB with one best path per prefix, but each peer may get a
// different set of routes (Route.Peers) and, for the same prefix, different
// communities or LOCAL_PREF (two advertisements of one pool). Export
// policies could express that, but a change of a route's peers would then
// need a policy update plus a soft reset ordered just right. Instead every
// peer is bound to a VRF of its own (a unique route distinguisher and
// route target on this speaker, never sent anywhere), and its routes are
// added to that VRF: GoBGP sends a VRF-bound peer exactly its VRF's routes,
// as plain unicast with the extended communities stripped. A peer's table
// is then just a map diffed against the desired one.
//
// # Link bandwidth
//
// A route with Route.LinkBandwidth must reach the peer with the link
// bandwidth extended community, which that stripping would remove. Its
// VRF path carries a marker large community instead, and a global export
// policy, which GoBGP applies after leaving the VRF, swaps the marker for
// the community: one policy per distinct value in use (linkbw.go).
//
// # Sessions
//
// A session carries the address family of its peer's address: IPv4 routes
// to IPv4 peers, IPv6 routes (MP-BGP) to IPv6 peers. The next hop is left
// unspecified, which GoBGP replaces with the session's local address
// (next-hop-self). The speaker only dials out unless Options.ListenPort is
// set, so it never competes for port 179 on a hostNetwork node. TCP-MD5
// uses GoBGP's TCP_MD5SIG socket option, which works inside a network
// namespace; a password mismatch shows only as connect timeouts, which the
// speaker picks out of GoBGP's debug log and reports in Status with a
// hint. Passwords never reach the logs: Peer redacts itself in fmt, slog
// and JSON, and GoBGP's log output is filtered.
//
// # Graceful restart
//
// With Peer.GracefulRestart the session advertises the capability with
// Options.GracefulRestartTime. When Run's context ends the speaker stops
// GoBGP with StopBgp(AllowGracefulRestart): sessions that negotiated
// graceful restart are closed without a Cease (GoBGP's plain Stop sends
// one to every peer, which makes routers flush the routes at once), so
// the router keeps the node's routes, stale, until the next speaker is
// back. The sessions a speaker opens first after its start carry the
// Restart State and Forwarding State bits, so the router keeps the stale
// routes until this speaker's End-of-RIB instead of dropping them when the
// session comes back; and sessions open only after the first SetRoutes, so
// that End-of-RIB never comes before the routes.
//
// # BFD
//
// Peer.BFD uses GoBGP's native BFD (RFC 5880/5881, asynchronous mode,
// single hop, UDP 3784): intervals and detection multiplier per peer.
// GoBGP's BFD cannot do passive mode, echo mode or a minimum TTL check;
// such settings are logged and ignored. When BFD goes down GoBGP hard
// resets the BGP session. The speaker opens a BFD peer's BGP session only
// once BFD is up (bfdgate.go explains the FRR race this avoids). Each of
// its calls that stops a BFD session in GoBGP waits until GoBGP's BFD
// server is done with it, which keeps GoBGP 4.8.0 clear of a deadlock
// between its BFD and BGP loops (bfdstop.go).
//
// Run the speaker in the network namespace it peers from: GoBGP opens its
// sockets from goroutines of its own (the tests run it in a helper process
// started inside each node's namespace).
package bgp
