// Package nftables programs a datapath.State with nf_tables, through
// netlink (github.com/google/nftables; no nft binary needed at run time).
//
// The backend owns one table, inet ironlb, and touches nothing else: other
// tables (kube-proxy's, firewalld's, a CNI's) are never read or written.
// `nft list table inet ironlb` shows, roughly:
//
//	map services4 { ipv4_addr . inet_proto . inet_service : verdict }  VIP:port -> goto svc chain
//	set vips4     { ipv4_addr }                       every VIP
//	set local4    { ipv4_addr . inet_proto . inet_service }  LocalOnly services
//	set hairpin4  { ipv4_addr . ipv4_addr }           backend . backend
//	set affinity4 { ipv4_addr . ipv4_addr . inet_service; dynamic, timeout }  client . backend . port
//	(and the same with 6 for IPv6)
//
//	chain nat-prerouting  (nat, prerouting, dstnat)   ip daddr . meta l4proto . th dport vmap @services4
//	chain nat-output      (nat, output, dstnat)       the same, for connections from this node
//	chain filter-prerouting (filter, prerouting, dstnat+10), filter-output (filter, output, filter)
//	                      ip daddr @vips4 goto refuse4: what is still addressed to a VIP was not
//	                      DNATed: dropped for LocalOnly services, refused (TCP RST / ICMP port
//	                      unreachable) otherwise
//	chain nat-postrouting (nat, postrouting, srcnat)  masquerade packets carrying the mark bit
//	                      (Cluster services) and DNATed connections whose source is their
//	                      destination (hairpin)
//	chain svc4-203.0.113.10-tcp-80   one per virtual service: with loadBalancerSourceRanges
//	                      ip saddr != PREFIX ... drop (see sources.go), mark (Cluster),
//	                      affinity lookups, then one DNAT rule per usable backend
//	                      (see serviceRules)
//	chain ironlb-meta     one rule whose comment records the skeleton and state digests
//
// DNAT happens on a connection's first packet only (conntrack remembers it),
// so established connections survive every change, and a draining backend
// (Weight 0, left out of the chain) keeps its connections while getting no
// new ones. UDP has no connection end, so the conntrack entries of a removed
// backend are deleted after the transaction (as kube-proxy does).
//
// # Transactions and cost
//
// Every Apply is one nf_tables transaction: atomic for packets. The first
// Apply of a process reads ironlb-meta: if the table already holds exactly
// the State (same skeleton, same digest of every service), nothing is
// written, so a restart changes no rule. Otherwise it deletes and rebuilds
// the table in one transaction. Later Applies change only the chains and
// set elements of services that differ (Diff).
//
// Two kernel costs shaped the layout (measured on Linux 6.18):
//   - Sets are expensive to create in bulk (creating 10,000 sets, named or
//     anonymous, takes the kernel seconds), so a service's backends are a
//     cascade of rules in its chain rather than a map of its own.
//   - Deleting set elements makes the transaction wait about 10 ms, so an
//     endpoint change rewrites its service's chain (flush and refill)
//     without touching set elements, and unused hairpin entries are removed
//     lazily, in bulk.
//
// Every transaction that adds a NAT rule makes the kernel revalidate all
// rules reachable from the table's base chains (twice: from prerouting and
// from output), so a change costs time in proportion to the total number of
// backends in the table: about 2-4 ms per 10,000 backends on the shared
// 2-core test machine. Splitting services over several tables would bound
// that (validation is per table); the one-table design keeps it simple.
//
// # Drift
//
// Something else on the node may flush the ruleset (`nft flush ruleset`, a
// firewall service restarting), delete or empty one of the tables, or
// flush or edit one chain (`nft flush chain`, `nft delete rule`, `nft
// insert rule`). Run checks every Options.CheckInterval (1 s):
//   - a canary that costs the same whatever the number of services: one
//     dump of the inet tables with their use counts (chains plus sets) and
//     the main table's meta rule (which records the state digest);
//   - the ruleset's generation (the kernel counts committed transactions);
//     if it moved since the last check that found every chain in line,
//     one dump of the inet chains with their use counts (rules plus the
//     gotos and map elements that point at them), compared with what the
//     backend programmed. Our own transactions carry the verified
//     generation forward when they were the only commit in between, so an
//     idle ruleset or our own Applies cost no chain dump; another
//     program's commit costs one (about 7-17 ms of CPU at 10,000 services,
//     BenchmarkDriftCheck).
//
// Every Options.FullCheckPeriod (60 s) it also compares every chain name
// and set element. A table that differs is rebuilt from the last applied
// State, a chain whose use count differs is flushed and refilled on its
// own (with its services map element added again), all in one
// transaction (planRepair decides, purely): a flushed ruleset costs a full
// rebuild, a deleted shard that shard only, an edited chain that chain
// only. Foreign tables are never written; the chain dump lists their
// chains too (the kernel cannot filter it by table), which are skipped.
// A repair reads the use counts again right after its commit: a chain
// still off then (three repairs in a row) is one this kernel counts
// differently, and is no longer judged by count rather than rewritten
// every second (stillDiffer); a program that flushes a chain after each
// repair is not mistaken for that, and is answered by a repair each time.
//
// A rule replaced by another (`nft replace rule`), or a rule deleted and
// another added to the same chain, keeps the use count and is not seen:
// comparing rule contents would mean dumping every rule of 10,000
// services. The checks hold the backend's lock, so an Update waits for
// one: well under a millisecond for the canary with the generation
// unchanged, a few tens of ms after a foreign commit, 0.1-0.5 s for the
// full comparison at 10,000 services (BenchmarkDriftCheck).
//
// Netlink monitoring (NFNLGRP_NFTABLES) would detect a flush at once, but
// once anyone listens the kernel builds a notification for every object of
// every transaction, our own 100,000-rule full syncs included; a 1 s
// canary meets the 5 s repair goal without that cost. (kube-proxy polls
// too: its iptables mode checks a KUBE-PROXY-CANARY chain every sync
// period, its nftables mode relies on a periodic full sync.)
//
// Refusing at prerouting uses reject in a prerouting chain; verified on
// Linux 6.18 (an older kernel that refuses it makes the first Apply fail
// loudly rather than half-work).
package nftables
