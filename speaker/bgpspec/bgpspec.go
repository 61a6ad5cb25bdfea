// Package bgpspec holds what one node's BGP speaker is asked to do: the
// sessions to open and the routes to send. It is plain data with no BGP
// implementation behind it, so the planner (speaker/bgpplan) and ironlbctl
// use it without linking GoBGP or netlink; speaker/bgp runs it.
package bgpspec

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Dynamic ASN modes of Peer.DynamicASN.
const (
	DynamicASNInternal = "internal"
	DynamicASNExternal = "external"
)

// Peer is one BGP session of this node, compiled from a BGPPeer.
type Peer struct {
	// Name identifies the peer (the BGPPeer's name): Route.Peers, Status
	// and the metrics' peer label use it.
	Name string
	// MyASN is this node's AS on the session; PeerASN the peer's. With
	// DynamicASN set, PeerASN is 0 and the peer's AS is learned from its
	// OPEN: "internal" accepts only MyASN, "external" any other AS.
	MyASN, PeerASN uint32
	DynamicASN     string
	Address        netip.Addr
	// Port is the peer's TCP port; 0 means 179.
	Port uint16
	// SourceAddress is the local address of the session; invalid: the
	// kernel chooses.
	SourceAddress netip.Addr
	// HoldTime (3s..65535s, whole seconds; 0 is not supported by GoBGP),
	// KeepaliveTime (0 means HoldTime/3) and ConnectTime (the retry
	// interval; 0 means 10s).
	HoldTime, KeepaliveTime, ConnectTime time.Duration
	EBGPMultiHop                         bool
	// Password turns on TCP-MD5. It is never logged.
	Password string
	// BFD turns on BFD with these timers; nil: no BFD.
	BFD             *BFDProfile
	GracefulRestart bool
}

// BFDProfile holds a peer's BFD settings.
type BFDProfile struct {
	Name                              string
	ReceiveInterval, TransmitInterval time.Duration
	DetectMultiplier                  uint32
	// PassiveMode and MinimumTTL are accepted but GoBGP's BFD cannot
	// honour them: it always sends, and checks no TTL. The speaker logs a
	// warning once per peer.
	PassiveMode bool
	MinimumTTL  uint32
}

// String describes the peer without its password.
func (p Peer) String() string {
	as := fmt.Sprint(p.PeerASN)
	if p.DynamicASN != "" {
		as = p.DynamicASN
	}
	return fmt.Sprintf("%s (%s AS %s, local AS %d, password %s)", p.Name, p.Address, as, p.MyASN, passwordState(p.Password))
}

// Format makes every fmt verb (%v, %+v, %#v, ...) print String, so the
// password cannot leak through fmt.
func (p Peer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// LogValue keeps slog from printing the password.
func (p Peer) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("name", p.Name),
		slog.String("address", p.Address.String()),
		slog.Uint64("myASN", uint64(p.MyASN)),
		slog.String("password", passwordState(p.Password)),
	}
	if p.DynamicASN != "" {
		attrs = append(attrs, slog.String("dynamicASN", p.DynamicASN))
	} else {
		attrs = append(attrs, slog.Uint64("peerASN", uint64(p.PeerASN)))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON keeps encoding/json (and slog's JSON handler, which uses it
// for values inside slices and maps) from printing the password.
func (p Peer) MarshalJSON() ([]byte, error) {
	type redacted Peer // no methods: no recursion
	r := redacted(p)
	r.Password = passwordState(p.Password)
	return json.Marshal(r)
}

func passwordState(pw string) string {
	if pw == "" {
		return "none"
	}
	return "set (redacted)"
}

// Route is one prefix this node announces.
type Route struct {
	// Prefix is announced as is (a /32 or /128 Service IP, or an
	// aggregate); it must have no host bits set.
	Prefix netip.Prefix
	// Peers are the names of the peers that receive it; empty means all.
	// Names of peers this node does not have are ignored.
	Peers []string
	// LocalPref is LOCAL_PREF; GoBGP sends it to iBGP peers only.
	LocalPref *uint32
	// Communities are standard communities (high 16 bits: AS) and
	// LargeCommunities RFC 8092 ones (global admin, data 1, data 2).
	Communities      []uint32
	LargeCommunities [][3]uint32
	// LinkBandwidth, when not 0, is sent as the link bandwidth extended
	// community, in bytes per second: a router weighting its ECMP by it
	// sends this node that share of the prefix's traffic.
	LinkBandwidth float32
}
