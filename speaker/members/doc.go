// Package members is the speakers' own failure detector: every speaker
// learns within a fraction of a second which other speakers are alive, over
// UDP between the nodes, without the Kubernetes API server (which only
// supplies the member list, through SetPeers).
//
// # Use
//
//	m, err := members.New(members.Options{Node: nodeName, Bind: nodeIP:7946, Secret: key})
//	m.SetMeta(interfaceMACs)           // optional, any time
//	m.SetPeers(nameToAddr)             // from the Node objects; on every change
//	go m.Run(ctx)                      // owns the socket and its goroutines
//	for range m.Changes() { elect(m.Alive()) }
//	// on SIGTERM: m.Leave(ctxWithTimeout), then cancel Run's context.
//
// Alive() is empty until the first join has completed (a round trip in a
// running cluster, one Timeout at most), so a starting speaker never acts on
// a guess. After Leave it no longer lists the node itself.
//
// # Protocol
//
// Membership is the SetPeers list. Members are placed on a ring ordered by a
// hash of their names (not the names: a rack's nodes tend to have
// consecutive names, and failures of more than Fanout ring neighbours at
// once are detected one Timeout later, see below). Every Interval each node
// pings its Fanout (3) next live members on the ring, which answer with an
// ack; a node that has not heard from a successor for Timeout declares it
// dead and sends the verdict, with the dead node's incarnation, straight to
// every member. So each node has three monitors, and everyone drops a dead
// node within a millisecond of the first verdict: views agree, and there is
// no window in which two nodes both announce an address.
//
// Ping/ack rather than one-way heartbeats to the successors: a monitor only
// judges members it is actively pinging, so two speakers whose member lists
// differ for a moment (one Node watch lagging) cannot declare each other dead
// because each expected heartbeats the other did not send; and acks give the
// round trip time. Once an ack is half an interval late the monitor pings
// every Interval/4, so it takes about 15 lost round trips in a row, not 5,
// for packet loss alone to cause a false verdict.
//
// Each member has an incarnation (its start time in nanoseconds, raised when
// needed). A verdict "dead at incarnation i" beats "alive at i", so late or
// replayed heartbeats cannot resurrect a dead node; "left" beats both. A
// live node that learns it was declared dead refutes by raising its
// incarnation and telling everyone. A restarted node starts above its old
// incarnation; if its clock went backwards, the others' answers make it
// catch up. Meta (SetMeta) is bound to the incarnation: a change raises it.
//
// News spreads three ways, fastest first: whoever makes it (a monitor, a
// node refuting, joining, leaving, or changing its meta) sends it to every
// member at once; every node piggybacks news it applied on its next pings
// and acks, which repairs a lost packet within a ping or two; and every
// packet carries a digest of the sender's whole view, so a neighbour whose
// view stays different for two intervals gets the whole view pushed to it
// (with exponential backoff, 1 s to 30 s, when the member lists differ).
//
// A node that starts pings every member with a joining flag; live ones
// answer, three are asked for their view of the members that are not alive.
// Leave announces "left" to every live member, which drops the node at once
// and acknowledges; the leaver keeps itself in its own Alive() until all
// acknowledged (a round trip: both may announce an address meanwhile, rather
// than nobody), then stops pinging but keeps answering until Run ends.
//
// Dead members are still probed (every 4 intervals) by the few nodes that
// precede them on the ring of all members, so that a node whose join was
// missed, or the far side of a healed partition, is found again; probing by
// a few rather than by everyone keeps the LAN free of ARP storms for
// powered-off nodes.
//
// # Partitions
//
// When the network splits, each side carries on with the members it can
// hear: both sides announce their addresses (split brain). That is expected:
// the sides cannot tell a partition from the other side's death, and
// announcing to a segment that cannot reach the other side is harmless. A
// node cut off alone ends up seeing only itself. Rumours are accepted only
// from members held alive, and when the link returns, the side that sees
// fewer members alive (both, on a tie) forgets what it learnt meanwhile and
// rejoins; the other side changes nothing, so one node coming back does not
// make the whole cluster churn. A member not heard of again by the end of a
// rejoin keeps what was known of it before (dead if it was alive): on a tie
// nobody is left to tell the others about a node that is really gone. That decision waits one Interval and probes
// the other side first, because packets queued while a link was down (in the
// kernel's neighbour queue) are delivered late, with stale views. Until the
// cut-off node has rejoined it still claims every address: on a real link,
// the gap is dominated by the kernel's ARP retransmission for neighbours
// that went unresolved during the cut (up to 1 s). An integration that
// prefers silence to split brain can stop announcing while Alive() holds
// less than half of PeerInfo(); that policy is not this package's.
//
// Other limits. A one-way failure (A hears B, B does not hear A) makes B
// flap: declared dead, refutes, declared dead again every Timeout; there are
// no indirect probes. More than Fanout consecutive ring members failing at
// once (5 in the test) are all detected within 2 × Timeout instead of one.
// One address family per cluster (the Bind family). At most 65535 members,
// names up to 253 bytes, meta up to 256 bytes.
//
// # Timing
//
// Defaults: Interval 50 ms, Timeout 250 ms. A dead node is declared at most
// Timeout after its last ack, so between Timeout−Interval and Timeout after
// its death, and everyone knows a millisecond later: that leaves half of the
// 500 ms budget to the announcer and to scheduling delays. A live node is
// declared dead only if it did not answer for 250 ms: 15 lost round trips,
// or a stall of its process longer than about 200 ms. Our own delays are
// not blamed on the peers: if our timer ran more than two intervals late,
// their deadlines move by the time lost; and no verdict is given while
// packets wait unread in our socket (under CPU saturation Go's scheduler can
// run the timer well before the reader). Go's GC normally stops the world
// for well under a millisecond, but not on a starved machine (below), and a
// CPU limit lets CFS freeze a container for most of each 100 ms period: run
// the speaker without a CPU limit (Guaranteed QoS or a generous limit, a
// node-critical priority class), or raise Timeout.
//
// # Measured (2-core VM)
//
// BenchmarkDetection: 5 speakers on loopback, 20 kills per run (kill -9 as
// the others see it) at random phases of the ping cycle, 80 samples per
// run, over several runs. Idle machine: p50 220 to 223 ms, worst 244 to
// 277 ms after the kill; survivors within 0.2 to 11 ms of each other (p99
// spread); no false verdicts. BenchmarkDetectionUnderLoad (both cores
// allocating in the same process, 50 to 110 GC cycles per second): p50 220
// to 225 ms, worst 253 to 267 ms, spread 16 to 29 ms, no false verdicts.
// Four CPU-bound processes beside it: p50 209 to 224 ms, worst 273 to 362 ms,
// spread 5 to 53 ms, no false verdicts. Both at once (about 3x
// oversubscribed): GC stop-the-world pauses of 160 to 620 ms, worst
// detections of 0.54 to 1.1 s, and 0 to 3 live nodes declared dead per 80
// kills (each refuted within milliseconds). No protocol stays under 500 ms
// when its process is frozen that long: hence the requirement above.
//
// Leave: the others drop the leaver about 0.1 ms after the call, and Leave
// returns once all acknowledged. In network namespaces (e2e/vlan), cutting a
// node's cable gets it dropped by the others after 250 ms; when the cable
// comes back all agree again after about 0.86 s (ARP retransmission).
//
// Cost: each node sends 120 packets per second and receives as many,
// whatever the cluster size (10, 100 and 1000 simulated nodes), about 100
// bytes each; full-mesh heartbeats at the same rate would be 20 × (N−1) per
// node (19980/s at 1000 nodes, and N² in the network). A cold start of the
// whole cluster costs each node about 3 packets per member, once. The
// protocol work for a received packet (HMAC, decoding, state machine,
// answer) is 3 to 4 µs; with system calls and goroutine wake-ups a speaker
// uses about 6 ms of CPU per second (0.6 % of one core; 5 speakers in one
// process for 10 s), the same at any cluster size. A death costs each
// monitor one packet per member, once.
//
// # Security
//
// Every packet ends with HMAC-SHA256 (truncated to 16 bytes) keyed from
// Options.Secret; others are dropped and counted
// (ironlb_members_heartbeats_rejected_total{reason="auth"}). The tag also
// covers the recipient's name (not sent), so a packet is valid only at the
// node it was sent to. Packets carry a per-sender sequence number, ordered
// after the sender's incarnation: a replayed or duplicated packet is dropped
// at its recipient (reason "replay"), and one replayed at another node fails
// authentication. A host on the LAN without the key can therefore neither
// forge a heartbeat, a death or a leave, nor replay a genuine packet
// (e2e/layer2 TestHostileLANChangesNoViewAndFailoverStaysFast). One limit:
// a node that restarts forgets the sequence numbers it saw, so a packet
// captured before may be taken once after the restart; it carries news no
// newer than what the join teaches (a dead node's old heartbeat is "alive"
// at the incarnation it was declared dead at, which the verdict beats).
// What such a host can still do is what any host on a LAN can: flood, or
// drop traffic it is in the path of.
//
// Keys rotate without downtime: AcceptSecrets (and SetSecrets at runtime)
// add keys that verify but do not sign; see keys.go and the README.
// Liveness traffic is marked DSCP CS6 (network control) so that switches
// honouring QoS favour it under congestion.
//
// # Structure
//
// The decisions are a pure state machine (machine.go and the files it
// names: receive, tick, join, leave, gossip, ring, view): inputs carry the
// time, outputs are packets to send and state changes, no I/O and no clock.
// It is tested with scripted message sequences (machine_test.go) and as a
// whole with a simulated network on a virtual clock (sim_test.go: kills,
// stalls, partitions, packet loss, restarts). Members (members.go, run.go)
// drives it from a UDP socket and a timer; codec.go is the wire format.
package members
