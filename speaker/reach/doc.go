// Package reach is the speaker's reachability self-check: an address that
// is announced but does not answer is found and reported.
//
// The node that announces an address (the layer 2 owner, or each node
// that advertises it over BGP) connects, from the host network namespace,
// to every TCP port of the Services on it. Locally originated
// connections go through the node's own datapath (nftables: the
// nat-output chain DNATs them exactly as prerouting does for clients;
// IPVS: they meet the virtual service at LOCAL_OUT), so a connection that
// succeeds proves the VIP's rules and at least one endpoint answer; a
// refused or unanswered one means the rules are missing (the filter
// chains refuse what is still addressed to a VIP) or no endpoint serves
// the port. Another host answering ARP/NDP for the address is found by
// the layer 2 engine's answer check (layer2.Options.AnswerCheckInterval)
// and comes in as the target's conflict. UDP ports are not checked: a UDP
// server owes no answer to an arbitrary datagram, so silence proves
// nothing.
//
// What to probe (Checks) and what the results mean (Judge) are pure
// functions; Prober does the I/O: one round every interval (jittered,
// and stretched past MaxConnectionsPerSecond), its connections opened
// evenly at that rate, at most Concurrency at a time, each with a short
// timeout.
// A port is reported not answering after Threshold failures in a row, so
// one lost SYN does not raise an alarm, and answering again after one
// success.
package reach
