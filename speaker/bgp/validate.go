package bgp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

const (
	defaultConnectTime = 10 * time.Second
	maxBGPTimer        = 65535 * time.Second
	maxPasswordLength  = 80 // TCP_MD5SIG_MAXKEYLEN

	defaultBFDInterval   = 300 * time.Millisecond
	defaultBFDMultiplier = 3
	minBFDInterval       = time.Millisecond
	// GoBGP carries BFD intervals as uint32 microseconds.
	maxBFDInterval = time.Duration(math.MaxUint32) * time.Microsecond
)

// normalizePeer checks a peer and fills its defaults. Errors name the
// field; the caller prefixes the peer.
func normalizePeer(p Peer) (Peer, error) {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fieldError(field, format, a...))
	}
	if p.Name == "" {
		add("Name", "is empty")
	}
	if p.MyASN == 0 {
		add("MyASN", "is 0")
	}
	switch p.DynamicASN {
	case "":
		if p.PeerASN == 0 {
			add("PeerASN", "is 0 and DynamicASN is not set")
		}
	case DynamicASNInternal, DynamicASNExternal:
		if p.PeerASN != 0 {
			add("PeerASN", "is %d but DynamicASN is %q: set one of them", p.PeerASN, p.DynamicASN)
		}
	default:
		add("DynamicASN", "%q is not %q, %q or empty", p.DynamicASN, DynamicASNInternal, DynamicASNExternal)
	}
	p.Address = p.Address.Unmap()
	if !p.Address.IsValid() || p.Address.IsUnspecified() || p.Address.IsMulticast() {
		add("Address", "%v is not a unicast address", p.Address)
	} else if p.Address.Zone() != "" {
		add("Address", "%v: zoned (link-local) peers are not supported", p.Address)
	}
	if p.SourceAddress.IsValid() {
		p.SourceAddress = p.SourceAddress.Unmap()
		if p.Address.IsValid() && p.SourceAddress.Is4() != p.Address.Is4() {
			add("SourceAddress", "%v is not of the same family as Address %v", p.SourceAddress, p.Address)
		}
	}
	// GoBGP takes timers in whole seconds, and turns a hold time of 0
	// into its default (90s): "no keepalives" cannot be expressed.
	switch h := p.HoldTime; {
	case h == 0:
		add("HoldTime", "0 (keepalives disabled) is not supported by GoBGP")
	case h < 3*time.Second || h > maxBGPTimer || h%time.Second != 0:
		add("HoldTime", "%v is not a whole number of seconds in 3s..65535s", h)
	}
	switch k := p.KeepaliveTime; {
	case k == 0:
		p.KeepaliveTime = (p.HoldTime / 3).Truncate(time.Second)
	case k < time.Second || k%time.Second != 0:
		add("KeepaliveTime", "%v is not a whole number of seconds, at least 1s", k)
	case p.HoldTime > 0 && 3*k > p.HoldTime:
		add("KeepaliveTime", "%v is more than a third of HoldTime %v", k, p.HoldTime)
	}
	switch c := p.ConnectTime; {
	case c == 0:
		p.ConnectTime = defaultConnectTime
	case c < time.Second || c > maxBGPTimer || c%time.Second != 0:
		add("ConnectTime", "%v is not a whole number of seconds in 1s..65535s", c)
	}
	if len(p.Password) > maxPasswordLength {
		add("Password", "is longer than TCP-MD5's %d bytes", maxPasswordLength)
	}
	if p.BFD != nil {
		b := *p.BFD
		if b.ReceiveInterval == 0 {
			b.ReceiveInterval = defaultBFDInterval
		}
		if b.TransmitInterval == 0 {
			b.TransmitInterval = defaultBFDInterval
		}
		if b.DetectMultiplier == 0 {
			b.DetectMultiplier = defaultBFDMultiplier
		}
		for _, iv := range []struct {
			field string
			v     time.Duration
		}{{"BFD.ReceiveInterval", b.ReceiveInterval}, {"BFD.TransmitInterval", b.TransmitInterval}} {
			if iv.v < minBFDInterval || iv.v > maxBFDInterval || iv.v%time.Microsecond != 0 {
				add(iv.field, "%v is outside %v..%v", iv.v, minBFDInterval, maxBFDInterval)
			}
		}
		if b.DetectMultiplier > math.MaxUint8 {
			add("BFD.DetectMultiplier", "%d is more than 255", b.DetectMultiplier)
		}
		p.BFD = &b
	}
	return p, errors.Join(errs...)
}

// fieldError names the field an error is about.
func fieldError(field, format string, a ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...))
}

// normalizePeers checks every peer. It returns the valid ones, in input
// order, and one error naming each invalid peer; a peer whose name or
// address repeats an earlier peer's is invalid.
func normalizePeers(in []Peer) ([]Peer, error) {
	var errs []error
	out := make([]Peer, 0, len(in))
	names := map[string]bool{}
	addrs := map[netip.Addr]string{}
	for i, p := range in {
		np, err := normalizePeer(p)
		if err == nil && names[np.Name] {
			err = fieldError("Name", "another peer has the same name")
		}
		if err == nil {
			if other, dup := addrs[np.Address]; dup {
				err = fieldError("Address", "%v is also the address of peer %q (one session per address)", np.Address, other)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: peers[%d] %q: %w", i, p.Name, err))
			continue
		}
		names[np.Name] = true
		addrs[np.Address] = np.Name
		out = append(out, np)
	}
	return out, errors.Join(errs...)
}

// normalizeRoutes checks every route and returns the valid ones (prefixes
// unmapped) and one error naming each invalid route.
func normalizeRoutes(in []Route) ([]Route, error) {
	var errs []error
	out := make([]Route, 0, len(in))
	for i, r := range in {
		p := r.Prefix
		var err error
		switch {
		case !p.IsValid():
			err = fieldError("Prefix", "invalid")
		case p.Addr().Zone() != "":
			err = fieldError("Prefix", "%v has a zone", p)
		case p.Addr().Is4In6():
			err = fieldError("Prefix", "%v is an IPv4-mapped IPv6 prefix", p)
		case p != p.Masked():
			err = fieldError("Prefix", "%v has host bits set (did you mean %v?)", p, p.Masked())
		}
		if err == nil {
			for j, name := range r.Peers {
				if name == "" {
					err = fieldError(fmt.Sprintf("Peers[%d]", j), "empty name")
					break
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: routes[%d] %v: %w", i, r.Prefix, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
