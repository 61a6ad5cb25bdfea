package layer2

import (
	"net"
	"net/netip"
	"time"
)

// Claim says that this node should answer for IP on the named interfaces.
type Claim struct {
	IP netip.Addr
	// Interfaces are names of this node's interfaces (patterns are resolved
	// by the caller). Names that do not exist yet are retried.
	Interfaces []string
	// Probe: the IP is new to the cluster, so look for another host using
	// it (RFC 5227 probe / IPv6 DAD) before the first announcement. False on
	// a failover takeover: announce at once.
	Probe bool
}

// Phase is where one IP stands on one interface.
type Phase string

const (
	// PhaseWaiting: the interface does not exist, or its sockets failed;
	// it is retried every InterfacePollInterval.
	PhaseWaiting Phase = "Waiting"
	// PhaseProbing: looking for another host using the IP; not answered yet.
	PhaseProbing Phase = "Probing"
	// PhaseAnnounced: requests are answered.
	PhaseAnnounced Phase = "Announced"
	// PhaseConflict: another host claimed the IP; not answered until the
	// claim is made again or a later probe finds nobody (see
	// Options.ConflictRetryInterval).
	PhaseConflict Phase = "Conflict"
)

// Announcement is the state of one claimed IP.
type Announcement struct {
	IP         netip.Addr
	Interfaces []InterfaceState // sorted by name
}

// Announced reports whether the IP is answered on at least one interface.
func (a Announcement) Announced() bool {
	for _, i := range a.Interfaces {
		if i.Phase == PhaseAnnounced {
			return true
		}
	}
	return false
}

// ErrorLinkDown is InterfaceState.Error while the interface's link is down.
const ErrorLinkDown = "link down"

// InterfaceState is the state of one claimed IP on one interface.
type InterfaceState struct {
	Name  string
	Phase Phase
	// Since is when Phase began.
	Since time.Time
	// Conflict is the last foreign claim seen, while the IP is in conflict
	// or being probed again after one; nil otherwise.
	Conflict *Conflict
	// Error says why the IP is Waiting (interface missing, socket error).
	Error string
}

// Conflict reports another host claiming one of our IPs (answering our
// probe, sending a gratuitous ARP or advertisement for it, probing for it
// at the same time as us, or using it as its source address), or the end of
// such a conflict.
type Conflict struct {
	IP        netip.Addr
	Interface string
	// MAC is the link-layer address the other host claimed the IP for.
	MAC net.HardwareAddr
	// At is when the conflict was seen (or, with Cleared, ended).
	At time.Time
	// Cleared reports the end of a conflict reported before: a later probe
	// found nobody and the IP is announced, or the claim was withdrawn.
	Cleared bool
}
