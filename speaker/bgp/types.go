package bgp

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/speaker/bgpspec"
)

// Options configure a Speaker.
type Options struct {
	// RouterID is the BGP identifier of this node (an IPv4 address,
	// required); it also makes the speaker's private route distinguishers
	// unique.
	RouterID netip.Addr
	// Logger receives the speaker's and GoBGP's logs; nil discards them.
	// Passwords never reach it.
	Logger *slog.Logger
	// Registerer receives the ironlb_bgp_* metrics while Run runs; nil
	// means no metrics.
	Registerer prometheus.Registerer
	// ListenPort, when positive, makes the speaker accept BGP connections
	// on that port as well (needed only for peers that never connect
	// themselves). Zero: the speaker only dials out, so it cannot clash
	// with another BGP daemon on a hostNetwork node.
	ListenPort int
	// GracefulRestartTime is the restart time advertised to peers with
	// GracefulRestart: how long they keep this node's routes after its
	// session drops without a Cease. Zero means 120s.
	GracefulRestartTime time.Duration
	// GracefulRestartDeferral bounds how long, after a (re)start, the
	// speaker holds back its routes from a graceful-restart peer while it
	// waits for the End-of-RIB of every other graceful-restart peer
	// (RFC 4724 4.1). Zero means 5s.
	GracefulRestartDeferral time.Duration
}

const (
	defaultGracefulRestartTime     = 120 * time.Second
	defaultGracefulRestartDeferral = 5 * time.Second
)

// Peer, BFDProfile and Route are what the speaker is asked to do; they
// live in bgpspec so that planners and the CLI can use them without
// linking GoBGP.
type (
	Peer       = bgpspec.Peer
	BFDProfile = bgpspec.BFDProfile
	Route      = bgpspec.Route
)

// Dynamic ASN modes of Peer.DynamicASN.
const (
	DynamicASNInternal = bgpspec.DynamicASNInternal
	DynamicASNExternal = bgpspec.DynamicASNExternal
)

// SessionState is a BGP session's FSM state.
type SessionState string

const (
	StateIdle        SessionState = "Idle"
	StateConnect     SessionState = "Connect"
	StateActive      SessionState = "Active"
	StateOpenSent    SessionState = "OpenSent"
	StateOpenConfirm SessionState = "OpenConfirm"
	StateEstablished SessionState = "Established"
)

// BFDState is a BFD session's state; "" when the peer has no BFD.
type BFDState string

const (
	BFDDown      BFDState = "Down"
	BFDInit      BFDState = "Init"
	BFDUp        BFDState = "Up"
	BFDAdminDown BFDState = "AdminDown"
)

// PeerStatus is what Status reports for one peer.
type PeerStatus struct {
	Name    string
	Address netip.Addr
	State   SessionState
	// Uptime is how long the session has been Established; 0 otherwise.
	Uptime time.Duration
	// PrefixesAdvertised counts the prefixes the peer has been sent (0
	// unless Established).
	PrefixesAdvertised int
	// LastError is the most recent failure on the session (a
	// notification sent or received, a hold timer expiry, BFD going
	// down, a failing TCP connect with a hint about TCP-MD5, ...), and
	// LastErrorTime when it happened. It stays after the session
	// recovers, for the record.
	LastError     string
	LastErrorTime time.Time
	BFD           BFDState
}
