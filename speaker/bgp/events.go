package bgp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
)

// tracker keeps what GoBGP does not: each session's last error, and the
// facts the event handlers need about the configured peers. It has its
// own lock because GoBGP calls it from its goroutines while the speaker
// may be waiting on GoBGP with its own lock held.
type tracker struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	peers map[netip.Addr]trackedPeer
	// records survive a peer's removal and re-creation: the address is
	// the key GoBGP reports with.
	records map[netip.Addr]*record
}

// trackedPeer is what the event handlers need to know about a peer.
type trackedPeer struct {
	name        string
	myASN       uint32
	dynamicExt  bool // DynamicASN external: the peer's AS must differ from myASN
	hasPassword bool
}

type record struct {
	lastError     string
	lastErrorTime time.Time
	lastConnect   string // last connect failure, to log each new one once
	state         SessionState
	// cause explains a session reset that is about to happen (BFD went
	// down, or the speaker resets the session itself): the notification
	// GoBGP sends does not say why.
	cause     string
	causeTime time.Time
	// bfdDowns counts GoBGP's BFD down events (each one resets the BGP
	// session); lastBFDDown is the latest.
	bfdDowns    int
	lastBFDDown time.Time
	// bfdResetsSent is bfdDowns when GoBGP last closed an established
	// session by sending a notification: the resets of the BFD downs up
	// to it went out on the wire and are not waiting for a next session.
	bfdResetsSent int
}

func newTracker(log *slog.Logger) *tracker {
	return &tracker{log: log, now: time.Now, peers: map[netip.Addr]trackedPeer{}, records: map[netip.Addr]*record{}}
}

// setPeers replaces the configured peers.
func (t *tracker) setPeers(peers []Peer) {
	m := make(map[netip.Addr]trackedPeer, len(peers))
	for _, p := range peers {
		m[p.Address] = trackedPeer{name: p.Name, myASN: p.MyASN, dynamicExt: p.DynamicASN == DynamicASNExternal, hasPassword: p.Password != ""}
	}
	t.mu.Lock()
	t.peers = m
	t.mu.Unlock()
}

func (t *tracker) recordLocked(a netip.Addr) *record {
	r := t.records[a]
	if r == nil {
		r = &record{}
		t.records[a] = r
	}
	return r
}

// setError records a session failure.
func (t *tracker) setError(a netip.Addr, msg string) {
	t.mu.Lock()
	r := t.recordLocked(a)
	r.lastError, r.lastErrorTime = msg, t.now()
	t.mu.Unlock()
}

// lastError returns a session's last failure.
func (t *tracker) lastError(a netip.Addr) (string, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.records[a]; r != nil {
		return r.lastError, r.lastErrorTime
	}
	return "", time.Time{}
}

// connectFailed handles a failed TCP connect that GoBGP logged.
func (t *tracker) connectFailed(peer, errText string) {
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return
	}
	t.mu.Lock()
	p, known := t.peers[a.Unmap()]
	r := t.recordLocked(a.Unmap())
	msg := connectErrorMessage(errText, p.hasPassword)
	r.lastError, r.lastErrorTime = msg, t.now()
	changed := r.lastConnect != errText
	r.lastConnect = errText
	t.mu.Unlock()
	if known && changed {
		t.log.Warn("BGP connect failed", "peer", p.name, "address", a, "error", msg)
	}
}

// connectErrorMessage explains a failed connect. A TCP-MD5 mismatch is
// invisible on this side: the peer's kernel drops the SYNs, so it looks
// like an unreachable peer.
func connectErrorMessage(errText string, hasPassword bool) string {
	msg := "TCP connect failed: " + errText
	if strings.Contains(errText, "timeout") {
		if hasPassword {
			msg += " (no answer: the peer is unreachable, or drops our SYNs because its TCP-MD5 password differs or it has none)"
		} else {
			msg += " (no answer: the peer is unreachable, or drops our SYNs because it expects a TCP-MD5 password)"
		}
	}
	return msg
}

// bfdDownEvents returns how many times BFD went down for a peer, up to
// which of those downs GoBGP's resets went out on an established session
// (record.bfdResetsSent), and when BFD last went down.
func (t *tracker) bfdDownEvents(a netip.Addr) (downs, resetsSent int, last time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.records[a]; r != nil {
		return r.bfdDowns, r.bfdResetsSent, r.lastBFDDown
	}
	return 0, 0, time.Time{}
}

// bfdDown handles GoBGP's BFD giving up on a peer; the session reset
// that follows carries the reason.
func (t *tracker) bfdDown(peer, why string) {
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return
	}
	a = a.Unmap()
	t.mu.Lock()
	p, known := t.peers[a]
	r := t.recordLocked(a)
	r.cause, r.causeTime = "BFD down ("+why+")", t.now()
	r.lastError, r.lastErrorTime = "BFD down: "+why, r.causeTime
	r.bfdDowns++
	r.lastBFDDown = r.causeTime
	t.mu.Unlock()
	if known {
		t.log.Warn("BFD session down", "peer", p.name, "address", a, "reason", why)
	}
}

// causeWindow is how long after a cause was recorded a session reset is
// attributed to it.
const causeWindow = 2 * time.Second

// reasonIsFailure tells session ends worth reporting from those the
// speaker caused or that are part of normal operation.
func reasonIsFailure(r api.PeerState_DisconnectReason) bool {
	switch r {
	case api.PeerState_DISCONNECT_REASON_HOLD_TIMER_EXPIRED,
		api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT,
		api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED,
		api.PeerState_DISCONNECT_REASON_READ_FAILED,
		api.PeerState_DISCONNECT_REASON_WRITE_FAILED,
		api.PeerState_DISCONNECT_REASON_INVALID_MSG,
		api.PeerState_DISCONNECT_REASON_BAD_PEER_AS,
		api.PeerState_DISCONNECT_REASON_RESTART_TIMER_EXPIRED:
		return true
	}
	return false
}

// peerEvent handles a GoBGP session state change. It returns a reason to
// reset the session, or "" (a DynamicASN "external" peer that turned out
// to be in this node's AS).
func (t *tracker) peerEvent(ev *apiutil.WatchEventMessage_PeerEvent) (reset string) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return ""
	}
	st := ev.Peer.State
	a := st.NeighborAddress.Unmap()
	t.mu.Lock()
	p, known := t.peers[a]
	t.mu.Unlock()
	if !known {
		return ""
	}
	state := fsmState(st.SessionState)
	msg := st.DisconnectMessage
	if msg == "" {
		msg = st.DisconnectReason.String()
	}
	t.mu.Lock()
	r := t.recordLocked(a)
	wasUp := r.state == StateEstablished
	r.state = state
	if wasUp && st.DisconnectReason == api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT {
		r.bfdResetsSent = r.bfdDowns
	}
	if reasonIsFailure(st.DisconnectReason) {
		now := t.now()
		if r.cause != "" && now.Sub(r.causeTime) < causeWindow {
			msg = r.cause + ": " + msg
			r.cause = ""
		}
		r.lastError, r.lastErrorTime = "session down: "+msg, now
	}
	t.mu.Unlock()
	switch {
	case state == StateEstablished:
		t.log.Info("BGP session established", "peer", p.name, "address", a, "peerASN", st.PeerASN)
		if p.dynamicExt && st.PeerASN == p.myASN {
			msg := fmt.Sprintf("the peer's AS %d is this node's AS, but DynamicASN is %q", st.PeerASN, DynamicASNExternal)
			t.mu.Lock()
			r.lastError, r.lastErrorTime = msg, t.now()
			r.cause, r.causeTime = msg, r.lastErrorTime
			t.mu.Unlock()
			t.log.Error("resetting BGP session", "peer", p.name, "address", a, "reason", msg)
			return msg
		}
	case wasUp && reasonIsFailure(st.DisconnectReason):
		t.log.Warn("BGP session down", "peer", p.name, "address", a, "state", state, "reason", msg)
	case wasUp:
		t.log.Info("BGP session closed", "peer", p.name, "address", a, "state", state, "reason", msg)
	}
	return ""
}
