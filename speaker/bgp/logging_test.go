package bgp

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

func TestGoBGPHandler(t *testing.T) {
	var out bytes.Buffer
	sec := &secrets{}
	sec.add([]string{"hunter2"})
	var connects, bfds, stops []string
	h := newGoBGPHandler(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}), sec, logHooks{
		connectFailed: func(peer, err string) { connects = append(connects, peer+" "+err) },
		bfdDown:       func(peer, why string) { bfds = append(bfds, peer+" "+why) },
		bfdStopped:    func(peer string) { stops = append(stops, peer) },
	})
	log := slog.New(h)
	peerLog := log.With("Topic", "Peer", "Key", "192.0.2.1")

	peerLog.Debug("failed to connect", "Error", "dial tcp 192.0.2.1:179: i/o timeout")
	log.Warn("Expired", "Topic", "bfd", "Peer", "192.0.2.2")
	log.Warn("Remote peer signaled BFD down", "Topic", "bfd", "Peer", "192.0.2.3")
	log.Error("failed to stop BGP server", "Error", "BGP server is not running")
	log.Info("Remove BFD peer", "Topic", "bfd", "Peer", "192.0.2.4")
	log.Info("Remove BFD peer", "Topic", "other", "Peer", "192.0.2.5")
	peerLog.Debug("state changed") // below the speaker's level
	peerLog.Info("password is hunter2", "conf", slog.GroupValue(slog.String("auth", "hunter2")), "other", "x-hunter2-y")
	log.WithGroup("g").With("secret", "hunter2").Info("grouped")

	if len(connects) != 1 || connects[0] != "192.0.2.1 dial tcp 192.0.2.1:179: i/o timeout" {
		t.Errorf("connect failures %q", connects)
	}
	if len(bfds) != 2 || !strings.HasPrefix(bfds[0], "192.0.2.2 no BFD packet") || !strings.HasPrefix(bfds[1], "192.0.2.3 the peer signalled") {
		t.Errorf("BFD events %q", bfds)
	}
	if len(stops) != 1 || stops[0] != "192.0.2.4" {
		t.Errorf("BFD stops %q", stops)
	}
	text := out.String()
	if strings.Contains(text, "hunter2") {
		t.Errorf("password in the log:\n%s", text)
	}
	for _, want := range []string{"Expired", "password is [redacted]", `"auth":"[redacted]"`, "x-[redacted]-y", "grouped"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"failed to stop BGP server", "state changed", "failed to connect"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("log has %q:\n%s", unwanted, text)
		}
	}
}

func TestTracker(t *testing.T) {
	var out bytes.Buffer
	tr := newTracker(slog.New(slog.NewTextHandler(&out, nil)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.now = func() time.Time { return now }
	a := netip.MustParseAddr("192.0.2.1")
	tr.setPeers([]Peer{{Name: "tor1", Address: a, MyASN: 64512, DynamicASN: DynamicASNExternal, Password: "x"}})

	tr.connectFailed("192.0.2.1", "dial tcp: i/o timeout")
	if msg, at := tr.lastError(a); !strings.Contains(msg, "TCP-MD5 password differs") || !at.Equal(now) {
		t.Errorf("connect failure: %q %v", msg, at)
	}
	tr.connectFailed("192.0.2.1", "dial tcp: i/o timeout")
	if n := strings.Count(out.String(), "BGP connect failed"); n != 1 {
		t.Errorf("the same connect failure was logged %d times", n)
	}

	ev := func(state bgp.FSMState, reason api.PeerState_DisconnectReason, msg string, peerAS uint32) *apiutil.WatchEventMessage_PeerEvent {
		return &apiutil.WatchEventMessage_PeerEvent{Type: apiutil.PEER_EVENT_STATE, Peer: apiutil.Peer{State: apiutil.PeerState{
			NeighborAddress: a, SessionState: state, DisconnectReason: reason, DisconnectMessage: msg, PeerASN: peerAS,
		}}}
	}
	// Established with another AS: fine. Then a notification.
	if r := tr.peerEvent(ev(bgp.BGP_FSM_ESTABLISHED, 0, "", 64500)); r != "" {
		t.Errorf("reset for a good AS: %q", r)
	}
	tr.peerEvent(ev(bgp.BGP_FSM_IDLE, api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED, "notification-received cease", 0))
	if msg, _ := tr.lastError(a); msg != "session down: notification-received cease" {
		t.Errorf("after a notification: %q", msg)
	}
	if !strings.Contains(out.String(), "BGP session down") {
		t.Errorf("no session-down log:\n%s", out.String())
	}
	// Our own removal of the peer is not an error.
	tr.peerEvent(ev(bgp.BGP_FSM_IDLE, api.PeerState_DISCONNECT_REASON_DECONFIGURED, "deconfigured", 0))
	if msg, _ := tr.lastError(a); msg != "session down: notification-received cease" {
		t.Errorf("deconfiguration recorded as an error: %q", msg)
	}
	// BFD down, then the reset it causes: the cause is kept.
	tr.bfdDown("192.0.2.1", "no BFD packet from the peer within the detection time")
	tr.peerEvent(ev(bgp.BGP_FSM_IDLE, api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT, "notification-sent admin reset", 0))
	if msg, _ := tr.lastError(a); msg != "session down: BFD down (no BFD packet from the peer within the detection time): notification-sent admin reset" {
		t.Errorf("after BFD: %q", msg)
	}
	// That session was not established: the reset may be queued.
	if downs, sent, _ := tr.bfdDownEvents(a); downs != 1 || sent != 0 {
		t.Errorf("reset on a session that was down: %d downs, resets sent up to %d; want 1, 0", downs, sent)
	}
	// On an established session the reset goes out on the wire.
	tr.peerEvent(ev(bgp.BGP_FSM_ESTABLISHED, 0, "", 64500))
	tr.bfdDown("192.0.2.1", "the peer signalled BFD down")
	tr.peerEvent(ev(bgp.BGP_FSM_IDLE, api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT, "notification-sent admin reset", 0))
	if downs, sent, _ := tr.bfdDownEvents(a); downs != 2 || sent != 2 {
		t.Errorf("reset on an established session: %d downs, resets sent up to %d; want 2, 2", downs, sent)
	}
	// A session the peer closed first leaves the reset of a later BFD
	// down queued.
	tr.peerEvent(ev(bgp.BGP_FSM_ESTABLISHED, 0, "", 64500))
	tr.peerEvent(ev(bgp.BGP_FSM_IDLE, api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED, "notification-received cease", 0))
	tr.bfdDown("192.0.2.1", "the peer signalled BFD down")
	if downs, sent, _ := tr.bfdDownEvents(a); downs != 3 || sent != 2 {
		t.Errorf("reset after the peer closed the session: %d downs, resets sent up to %d; want 3, 2", downs, sent)
	}
	// Much later, a reset is not blamed on that BFD event any more.
	tr.bfdDown("192.0.2.1", "x")
	now = now.Add(time.Minute)
	tr.peerEvent(ev(bgp.BGP_FSM_IDLE, api.PeerState_DISCONNECT_REASON_HOLD_TIMER_EXPIRED, "hold-timer-expired", 0))
	if msg, _ := tr.lastError(a); msg != "session down: hold-timer-expired" {
		t.Errorf("stale cause: %q", msg)
	}
	// DynamicASN external, but the peer is in our AS: reset.
	if r := tr.peerEvent(ev(bgp.BGP_FSM_ESTABLISHED, 0, "", 64512)); !strings.Contains(r, "DynamicASN") {
		t.Errorf("no reset for an internal peer: %q", r)
	}
	// Unknown peers are ignored.
	tr.connectFailed("192.0.2.99", "boom")
	if msg, _ := tr.lastError(netip.MustParseAddr("192.0.2.5")); msg != "" {
		t.Errorf("unknown peer: %q", msg)
	}
}
