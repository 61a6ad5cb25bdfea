package frr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Options is what the router is configured with.
type Options struct {
	// ASN is the router's AS number (required).
	ASN uint32
	// RouterID defaults to the host's IPv4 address.
	RouterID netip.Addr
	// Neighbors are the BGP sessions, usually the nodes' LAN addresses.
	Neighbors []Neighbor
	// MaximumPaths is "maximum-paths" and "maximum-paths ibgp" in both
	// address families (ECMP over that many next hops); 0 means 8.
	MaximumPaths int
	// BFD holds the timers of the "ironlb" BFD profile that neighbors with
	// BFD set use. Zero fields take 100 ms, 100 ms and 3 (300 ms to detect
	// a failure).
	BFD BFDTimers
	// GracefulRestart turns on "bgp graceful-restart" (restarting as well
	// as helper mode). FRR is a graceful-restart helper by default even
	// without it, so it keeps a restarting speaker's routes stale either
	// way.
	GracefulRestart bool
	// StalePathTime is "bgp graceful-restart stalepath-time"; zero keeps
	// FRR's default (360 s).
	StalePathTime time.Duration
	// KeepaliveTime and HoldTime are "timers bgp"; both zero keep FRR's
	// defaults (60 s and 180 s). The session uses the lower of the two
	// ends' hold times.
	KeepaliveTime, HoldTime time.Duration
	// Networks are prefixes bgpd originates itself ("network", with the
	// import check off), for tests that need routes from the router.
	Networks []netip.Prefix
	// Debug turns on bgpd's neighbor-event, update and BFD debug logs and
	// bfdd's peer and network debug logs.
	Debug bool
}

// BFDTimers are a BFD profile's timers.
type BFDTimers struct {
	ReceiveInterval, TransmitInterval time.Duration
	DetectMultiplier                  int
}

// Neighbor is one BGP session of the router.
type Neighbor struct {
	Address netip.Addr
	// ASN is the neighbor's AS number ("remote-as N"). When zero,
	// RemoteAS says "internal" or "external" instead.
	ASN      uint32
	RemoteAS string
	// Password turns on TCP-MD5 with this key (no whitespace).
	Password string
	// BFD adds "neighbor X bfd" with the ironlb profile (Options.BFD).
	BFD bool
	// Passive: the router never opens the TCP connection itself.
	Passive bool
	// Families are the address families the session carries; empty means
	// the family of Address only.
	Families []Family
}

// Family is a BGP address family as vtysh names it in "show bgp <family>
// unicast".
type Family string

const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

func (f Family) valid() bool { return f == IPv4 || f == IPv6 }

// familyOf returns the family of an address.
func familyOf(a netip.Addr) Family {
	if a.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// families returns the neighbor's address families in a fixed order.
func (n Neighbor) families() []Family {
	if len(n.Families) == 0 {
		return []Family{familyOf(n.Address)}
	}
	var out []Family
	for _, f := range []Family{IPv4, IPv6} {
		for _, g := range n.Families {
			if f == g {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

const (
	defaultMaximumPaths = 8
	defaultBFDInterval  = 100 * time.Millisecond
	defaultBFDMultipler = 3
	// bfdProfile names the one profile every BFD neighbor uses.
	bfdProfile = "ironlb"
)

// withDefaults fills defaults and checks every field; errors name it.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.ASN == 0 {
		errs = append(errs, errors.New("frr: Options.ASN is required"))
	}
	if o.RouterID.IsValid() && !o.RouterID.Is4() {
		errs = append(errs, fmt.Errorf("frr: Options.RouterID: %s is not an IPv4 address", o.RouterID))
	}
	if o.MaximumPaths < 0 || o.MaximumPaths > 64 {
		errs = append(errs, fmt.Errorf("frr: Options.MaximumPaths: %d is outside 0..64", o.MaximumPaths))
	}
	if o.MaximumPaths == 0 {
		o.MaximumPaths = defaultMaximumPaths
	}
	if o.BFD.ReceiveInterval == 0 {
		o.BFD.ReceiveInterval = defaultBFDInterval
	}
	if o.BFD.TransmitInterval == 0 {
		o.BFD.TransmitInterval = defaultBFDInterval
	}
	if o.BFD.DetectMultiplier == 0 {
		o.BFD.DetectMultiplier = defaultBFDMultipler
	}
	// FRR accepts 10..60000 ms and a multiplier of 2..255.
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReceiveInterval", o.BFD.ReceiveInterval}, {"TransmitInterval", o.BFD.TransmitInterval}} {
		if d.v < 10*time.Millisecond || d.v > time.Minute || d.v%time.Millisecond != 0 {
			errs = append(errs, fmt.Errorf("frr: Options.BFD.%s: %v is not a whole number of milliseconds in 10ms..60s", d.name, d.v))
		}
	}
	if m := o.BFD.DetectMultiplier; m < 2 || m > 255 {
		errs = append(errs, fmt.Errorf("frr: Options.BFD.DetectMultiplier: %d is outside 2..255", m))
	}
	if (o.KeepaliveTime == 0) != (o.HoldTime == 0) {
		errs = append(errs, errors.New("frr: Options.KeepaliveTime and Options.HoldTime: set both or neither"))
	}
	if o.HoldTime != 0 && (o.HoldTime%time.Second != 0 || o.KeepaliveTime%time.Second != 0 || o.HoldTime < 3*time.Second || o.KeepaliveTime > o.HoldTime) {
		errs = append(errs, fmt.Errorf("frr: Options.HoldTime %v and KeepaliveTime %v: whole seconds, hold time at least 3s and not below the keepalive time", o.HoldTime, o.KeepaliveTime))
	}
	if o.StalePathTime < 0 || o.StalePathTime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("frr: Options.StalePathTime: %v is not a whole number of seconds", o.StalePathTime))
	}
	for i, p := range o.Networks {
		if !p.IsValid() || p != p.Masked() {
			errs = append(errs, fmt.Errorf("frr: Options.Networks[%d]: %v is not a valid masked prefix", i, p))
		}
	}
	seen := map[netip.Addr]bool{}
	for i, n := range o.Neighbors {
		if err := n.check(); err != nil {
			errs = append(errs, fmt.Errorf("frr: Options.Neighbors[%d] (%s): %w", i, n.Address, err))
		}
		if seen[n.Address] {
			errs = append(errs, fmt.Errorf("frr: Options.Neighbors[%d]: address %s is listed twice", i, n.Address))
		}
		seen[n.Address] = true
	}
	return o, errors.Join(errs...)
}

func (n Neighbor) check() error {
	var errs []error
	if !n.Address.IsValid() {
		errs = append(errs, fieldError("Address", "is required"))
	}
	switch {
	case n.ASN != 0 && n.RemoteAS != "":
		errs = append(errs, errors.New("set ASN or RemoteAS, not both"))
	case n.ASN == 0 && n.RemoteAS != "internal" && n.RemoteAS != "external":
		errs = append(errs, fieldError("RemoteAS", "%q must be \"internal\" or \"external\" when ASN is 0", n.RemoteAS))
	}
	if n.Password != "" && strings.ContainsFunc(n.Password, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		errs = append(errs, fieldError("Password", "must not contain whitespace or control characters"))
	}
	if len(n.Password) > 80 {
		errs = append(errs, fieldError("Password", "longer than TCP-MD5's 80 bytes"))
	}
	for j, f := range n.Families {
		if !f.valid() {
			errs = append(errs, fieldError(fmt.Sprintf("Families[%d]", j), "%q is not %q or %q", f, IPv4, IPv6))
		}
	}
	return errors.Join(errs...)
}

// fieldError names the field an error is about.
func fieldError(field, format string, a ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...))
}
