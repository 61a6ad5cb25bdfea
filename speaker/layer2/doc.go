// Package layer2 is the speaker's layer 2 packet engine: it makes this
// node answer ARP (IPv4) and NDP (IPv6) for the Service IPs it has been
// elected for, on the interfaces it is told, and nowhere else.
//
// # Use
//
// New checks the Options; Run does the work until its context ends;
// SetClaims gives the complete set of IPs this node should answer for now
// (Run applies only the difference); State and Conflicts report back;
// Release stops answering for everything and returns once nothing is
// answered any more.
//
// Run opens every socket and looks every interface up from the goroutine
// that calls it, so the sockets belong to that thread's network namespace.
// The speaker runs in the host namespace and just calls Run; a test runs it
// inside vlan.Host.Do. The goroutines that read the sockets run anywhere.
//
// # Wire behaviour
//
// Per claimed interface there is one AF_PACKET socket for ARP while an
// IPv4 address is claimed there, one for IPv6 (filtered in the kernel down
// to neighbour solicitations and advertisements) while an IPv6 address is,
// and an IPv6 socket holding the solicited-node multicast memberships of
// the claimed IPv6 addresses (the kernel then sends the MLD reports that
// snooping switches need). Sockets close when the last IP on the interface
// goes. Packet sockets see unicast NUD probes for the IPs too, which an
// ICMPv6 socket would not (the kernel drops packets for addresses it does
// not own before raw sockets see them).
//
//   - An ARP request for an announced IP gets a reply from the interface's
//     MAC, to the asker, as the Linux kernel would send it (an RFC 5227
//     probe gets a reply with target IP 0.0.0.0).
//   - A neighbour solicitation for an announced IP gets an advertisement
//     with Solicited and Override from the IP itself; a DAD probe is
//     answered to all nodes, as RFC 4862 asks of the owner.
//   - A newly announced IP (first time, takeover, interface back, link up)
//     gets a burst of gratuitous ARP (request and reply forms, target
//     hardware address = sender, so that Linux overrides even fresh
//     entries) or unsolicited advertisements with Override to ff02::1; one
//     round repeats every RefreshInterval.
//   - A claim with Probe set is first probed for (ARP probes from 0.0.0.0,
//     DAD solicitations from ::) with timings in tens of milliseconds (see
//     Options.ProbeWait for why that deviates from RFC 5227).
//   - Requests for anything else, on any other interface, are ignored.
//
// The handlers (decideARP, decideNDP) and the per-IP state machine
// (binding) are pure functions; the socket code around them is thin.
//
// # Conflicts
//
// Another host claims one of our IPs when it answers our probe, announces
// the IP (gratuitous ARP, advertisement), runs a probe for it while we do,
// or sends from it. Claims from FriendlyMACs (other speakers, mid
// hand-over) and from this node's own interfaces are not conflicts. A
// conflict silences the IP on that interface (nothing is answered or
// announced: fighting over an address only makes both hosts flap) and is
// reported on Conflicts and in State. It ends when the claim is withdrawn
// (and may be made again), or by itself: every ConflictRetryInterval
// (default 10s) the IP is probed again, and once a probe finds nobody
// (the other host gave the address up or went away) it is announced and a
// Conflict with Cleared set is reported.
//
// # Interfaces
//
// Names that do not exist (yet), have no Ethernet address, or whose
// sockets fail leave their IPs Waiting (State says why; the problem is
// logged once) and are retried every InterfacePollInterval. Present ones
// are checked at the same interval: an interface deleted and created again
// is reopened and announced again, one whose link comes back up gets a new
// gratuitous burst.
package layer2
