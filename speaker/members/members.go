package members

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
	"time"
)

// Members tracks which speakers are alive. Create it with New, give it the
// member list with SetPeers, and call Run; the other methods are safe to
// call from any goroutine at any time.
type Members struct {
	opts Options
	log  *slog.Logger
	met  *metrics

	mu      sync.Mutex // guards everything below, and sends
	sm      *machine
	tx      *codec
	keys    atomic.Pointer[keyring] // read by the receiver without mu
	seq     uint64
	conn    *packetConn // set while Run runs
	ran     bool
	running bool

	kick      chan struct{} // wakes the tick loop early
	changes   chan struct{}
	leaveDone chan struct{}
	leaveOnce sync.Once
	done      chan struct{} // closed when Run returns
}

// New validates opts and returns a Members that has not started.
func New(opts Options) (*Members, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	cfg := config{self: opts.Node, interval: opts.Interval, timeout: opts.Timeout, fanout: opts.Fanout}
	keys, err := newKeyring(opts.secrets())
	if err != nil {
		return nil, fmt.Errorf("members: Options.Secret: %w", err)
	}
	now := time.Now()
	m := &Members{
		opts: opts,
		log:  opts.Logger.With("component", "members", "node", opts.Node),
		met:  met,
		// The wall clock as first incarnation puts a restarted speaker
		// above its previous life without any stored state; when the
		// clock went backwards, the others' notices make it catch up.
		sm:        newMachine(cfg, uint64(max(now.UnixNano(), 1)), now),
		tx:        newCodec(keys),
		kick:      make(chan struct{}, 1),
		changes:   make(chan struct{}, 1),
		leaveDone: make(chan struct{}),
		done:      make(chan struct{}),
	}
	m.keys.Store(keys)
	m.met.setKeys(keys)
	return m, nil
}

// SetSecrets replaces the keys at runtime: the first signs every packet from
// now on, all of them are accepted. A rotation without downtime goes in
// three steps, each applied on every node before the next: add the new key
// after the old one, put it first, drop the old one. Errors name keys by
// position only.
func (m *Members) SetSecrets(secrets [][]byte) error {
	keys, err := newKeyring(secrets)
	if err != nil {
		return fmt.Errorf("members: SetSecrets: %w", err)
	}
	m.mu.Lock()
	old := m.keys.Swap(keys)
	m.tx.use(keys)
	m.mu.Unlock()
	if old.fingerprint != keys.fingerprint || len(old.derived) != len(keys.derived) {
		m.log.Info("members: keys changed", "keys", len(keys.derived), "signingKey", keys.fingerprint)
	}
	m.met.setKeys(keys)
	return nil
}

// SetPeers replaces the member list: node name -> address of its speaker.
// Our own name, if present, is ignored. Entries with an invalid name or
// address are skipped and reported in the error; the others apply. Alive()
// stays empty until SetPeers has been called once and Run has joined.
func (m *Members) SetPeers(peers map[string]netip.AddrPort) error {
	valid := make(map[string]netip.AddrPort, len(peers))
	var errs []error
	for name, addr := range peers {
		addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		switch {
		case name == "" || len(name) > MaxName:
			errs = append(errs, fmt.Errorf("members: SetPeers: peer %q: name must be 1 to %d bytes", name, MaxName))
		case !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified():
			errs = append(errs, fmt.Errorf("members: SetPeers: peer %q: address %q is not a host address and port", name, peers[name]))
		case addr.Addr().Is4() != m.opts.Bind.Addr().Unmap().Is4():
			errs = append(errs, fmt.Errorf("members: SetPeers: peer %q: address %s is not of the family of Options.Bind %s", name, addr, m.opts.Bind))
		default:
			valid[name] = addr
		}
	}
	m.mu.Lock()
	m.apply(m.sm.setPeers(time.Now(), valid))
	m.mu.Unlock()
	m.wake()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// SetMeta sets the small opaque payload (at most MaxMeta bytes) that every
// packet of ours carries and that peers expose in PeerInfo, e.g. this node's
// MAC addresses. A change is broadcast at once.
func (m *Members) SetMeta(meta []byte) error {
	if len(meta) > MaxMeta {
		return fmt.Errorf("members: SetMeta: %d bytes, at most %d", len(meta), MaxMeta)
	}
	m.mu.Lock()
	m.apply(m.sm.setMeta(time.Now(), meta))
	m.mu.Unlock()
	m.wake()
	return nil
}

// Alive returns the sorted names of the live members, this node included
// while it is a member. It is empty until the first join completes (about a
// round trip after Run starts in a running cluster, one Timeout at most), so
// a starting speaker never acts on a guess; after Leave is acknowledged it
// no longer lists this node.
func (m *Members) Alive() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sm.published)
}

// Changes signals (coalesced, buffer 1) that Alive() may have changed.
func (m *Members) Changes() <-chan struct{} { return m.changes }

// PeerInfo describes every configured peer, sorted by name.
func (m *Members) PeerInfo() []Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sm.peerInfo()
}

// Leave tells the live members that this node is leaving, so that they drop
// it at once and take over its addresses, and returns when all have
// acknowledged (or after a few retries: members that never answer are
// likely dead). This node keeps answering until Run's context ends; it never
// rejoins (a restarted speaker is a new Members).
func (m *Members) Leave(ctx context.Context) error {
	m.mu.Lock()
	if !m.running {
		m.mu.Unlock()
		return errors.New("members: Leave: Run is not running")
	}
	m.apply(m.sm.startLeave(time.Now()))
	m.mu.Unlock()
	m.wake()
	select {
	case <-m.leaveDone:
		m.mu.Lock()
		unacked := m.sm.leaveUnacked()
		m.mu.Unlock()
		if len(unacked) > 0 {
			m.log.Info("members: left; some peers did not acknowledge", "unacknowledged", unacked)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("members: Leave: %w", ctx.Err())
	case <-m.done:
		return errors.New("members: Leave: Run stopped before the peers acknowledged")
	}
}

func (m *Members) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Members) nextSeq() uint64 {
	m.seq++
	return m.seq
}

// apply carries out the machine's effects. m.mu is held, so packets leave
// in the order their sequence numbers were assigned.
func (m *Members) apply(e effects) {
	for _, env := range e.sends {
		m.sendLocked(env)
	}
	if e.drop != "" {
		m.met.rejected.WithLabelValues(e.drop).Inc()
	}
	if e.rtt > 0 {
		m.met.rtt.Observe(e.rtt.Seconds())
	}
	if e.refuted {
		m.met.refutations.Inc()
		m.log.Warn("members: a peer held this node dead or cut off; refuted", "incarnation", m.sm.inc)
	}
	for _, t := range e.transitions {
		m.met.transitions.WithLabelValues(t.to.String()).Inc()
		attrs := []any{"peer", t.name, "state", t.to.String(), "incarnation", t.inc}
		if t.silence > 0 {
			m.met.detection.Observe(t.silence.Seconds())
			attrs = append(attrs, "silence", t.silence)
		}
		if e.joined {
			m.log.Debug("members: peer state", attrs...)
		} else {
			m.log.Info("members: peer state", attrs...)
		}
	}
	if e.joined {
		m.log.Info("members: joined", "alive", len(m.sm.published))
	}
	if e.changed {
		m.met.alive.Set(float64(len(m.sm.published)))
		select {
		case m.changes <- struct{}{}:
		default:
		}
	}
	if e.leaveDone {
		m.leaveOnce.Do(func() { close(m.leaveDone) })
	}
}

func (m *Members) sendLocked(env envelope) {
	if m.conn == nil {
		return
	}
	for i, pkt := range m.tx.encode(env.msg, env.toName, m.nextSeq) {
		typ := env.msg.typ
		if i > 0 {
			typ = typeGossip
		}
		if err := m.conn.writeTo(pkt, env.to); err != nil {
			m.met.sendErrors.Inc()
			m.log.Debug("members: send", "to", env.to, "error", err)
			continue
		}
		m.met.sent.WithLabelValues(typ.String()).Inc()
	}
}
