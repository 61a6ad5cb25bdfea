package layer2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Announcer answers ARP and NDP for the IPs this node claims. Create it
// with New, start Run, and tell it the claims with SetClaims.
type Announcer struct {
	opts      Options
	timing    timing
	log       *slog.Logger
	metrics   *metrics
	conflicts chan Conflict

	running atomic.Bool
	wake    chan struct{} // capacity 1: "something changed, look"

	mu      sync.Mutex
	desired map[netip.Addr]Claim
	gen     uint64 // bumped by every SetClaims
	applied uint64 // the generation the loop has applied
	// appliedCh is closed (and replaced) whenever applied changes or Run
	// stops.
	appliedCh chan struct{}
	events    []event
	state     []Announcement
	version   uint64 // bumped whenever state is replaced

	// ownMACs are this node's interface MACs (net.HardwareAddr.String),
	// always friendly.
	ownMACs atomic.Pointer[map[string]bool]
	// readers counts the socket reader goroutines; Run waits for them.
	readers sync.WaitGroup
	// socketsOpen counts open sockets (packet and membership), for tests
	// that check sockets are kept only while something is claimed.
	socketsOpen atomic.Int32
}

// event is what a reader goroutine tells the loop.
type event struct {
	iface    string
	sock     *sock     // the socket that failed (err set)
	err      error     // the reader stopped on this error
	conflict *Conflict // a foreign claim on a claimed IP
}

// New checks the options and registers the metrics. Nothing runs until Run.
func New(opts Options) (*Announcer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	a := &Announcer{
		opts:      opts,
		timing:    timingOf(opts),
		log:       opts.Logger,
		metrics:   m,
		conflicts: make(chan Conflict, opts.ConflictBuffer),
		wake:      make(chan struct{}, 1),
		desired:   map[netip.Addr]Claim{},
		appliedCh: make(chan struct{}),
	}
	own := map[string]bool{}
	a.ownMACs.Store(&own)
	return a, nil
}

// SetClaims replaces the complete set of claims; Run applies only the
// difference: new IPs (or new interfaces of an IP) are probed if asked and
// then announced with a gratuitous burst, removed ones stop being answered
// at once, unchanged ones see nothing (Probe only matters for an (IP,
// interface) pair that is new). It does not wait for Run; it may be called
// before Run starts.
//
// Invalid claims are left out and reported in the error (naming the claim
// and field); the valid ones are applied. An IP that appears twice keeps
// its first claim.
func (a *Announcer) SetClaims(claims []Claim) error {
	desired, err := normalizeClaims(claims)
	a.setDesired(desired)
	return err
}

// setDesired stores the wanted claims and returns their generation.
func (a *Announcer) setDesired(desired map[netip.Addr]Claim) uint64 {
	a.mu.Lock()
	a.desired = desired
	a.gen++
	gen := a.gen
	a.mu.Unlock()
	a.poke()
	return gen
}

func (a *Announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// normalizeClaims checks claims and indexes them by IP.
func normalizeClaims(claims []Claim) (map[netip.Addr]Claim, error) {
	out := make(map[netip.Addr]Claim, len(claims))
	var errs []error
	for i, c := range claims {
		ip := c.IP.Unmap().WithZone("")
		switch {
		case !ip.IsValid():
			errs = append(errs, fmt.Errorf("layer2: Claim[%d].IP: not set", i))
			continue
		case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() || (ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
			errs = append(errs, fmt.Errorf("layer2: Claim[%d].IP: %s cannot be announced", i, c.IP))
			continue
		}
		if _, dup := out[ip]; dup {
			errs = append(errs, fmt.Errorf("layer2: Claim[%d].IP: %s is claimed twice; the first claim applies", i, ip))
			continue
		}
		var names []string
		for j, n := range c.Interfaces {
			switch {
			case n == "" || len(n) > 15 || n == "." || n == ".." || strings.ContainsAny(n, "/ \t\n:"):
				errs = append(errs, fmt.Errorf("layer2: Claim[%d].Interfaces[%d]: %q is not an interface name", i, j, n))
			case !slices.Contains(names, n):
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("layer2: Claim[%d].Interfaces: no interface for %s", i, ip))
			continue
		}
		slices.Sort(names)
		out[ip] = Claim{IP: ip, Interfaces: names, Probe: c.Probe}
	}
	return out, errors.Join(errs...)
}

// State returns what is claimed now, per IP (sorted), with each interface's
// phase. It is empty while Run is not running.
func (a *Announcer) State() []Announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Announcement, len(a.state))
	for i, s := range a.state {
		out[i] = Announcement{IP: s.IP, Interfaces: slices.Clone(s.Interfaces)}
	}
	return out
}

// Version changes whenever State may have changed (it is bumped each
// time the engine publishes a new state): what a caller derived from
// State holds while Version reads the same.
func (a *Announcer) Version() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.version
}

// Conflicts delivers conflicts as they are found and as they end; State
// already shows an event's state when it arrives. The channel is buffered (Options.ConflictBuffer); events that do not fit are
// dropped and logged, State still shows them. It is never closed.
func (a *Announcer) Conflicts() <-chan Conflict { return a.conflicts }

// Release stops answering for every IP (as SetClaims(nil) does) and waits
// until Run has applied it, so that when it returns no reply for any IP
// goes out any more. It returns at once when Run is not running, and
// ctx's error if ctx ends first.
func (a *Announcer) Release(ctx context.Context) error {
	gen := a.setDesired(map[netip.Addr]Claim{})
	for {
		a.mu.Lock()
		done := a.applied >= gen || !a.running.Load()
		ch := a.appliedCh
		a.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("layer2: release: %w", ctx.Err())
		}
	}
}

// markApplied records that the loop has applied generation gen (or, when
// Run stops, everything).
func (a *Announcer) markApplied(gen uint64) {
	a.mu.Lock()
	if gen > a.applied {
		a.applied = gen
	}
	close(a.appliedCh)
	a.appliedCh = make(chan struct{})
	a.mu.Unlock()
}

// report queues an event for the loop.
func (a *Announcer) report(ev event) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
	a.poke()
}

// emit delivers a conflict event without ever blocking the loop.
func (a *Announcer) emit(c Conflict) {
	select {
	case a.conflicts <- c:
	default:
		a.log.Error("conflict event dropped: Conflicts channel full",
			"ip", c.IP, "interface", c.Interface, "mac", c.MAC.String(), "cleared", c.Cleared)
	}
}
