package members

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Table tests of the pure state machine: message sequences and a scripted
// clock in, Alive() and packets out. Node "a" is the machine under test.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// addrOf gives node "x" a fixed documentation address, 192.0.2.<n>:7946.
func addrOf(name string) netip.AddrPort {
	n := 0
	for _, c := range name {
		n = n*31 + int(c)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + n%250)}), DefaultPort)
}

func peerMap(names string) map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	for _, n := range strings.Fields(names) {
		out[n] = addrOf(n)
	}
	return out
}

var testConfig = config{self: "a", interval: 50 * time.Millisecond, timeout: 250 * time.Millisecond, fanout: 3}

type harness struct {
	t   *testing.T
	m   *machine
	seq map[string]uint64
	now time.Time
}

// Message builders. The harness numbers packets per sender (seq) when a
// test leaves seq at 0.
func ping(from string, inc uint64, rumors ...rumor) *message {
	return &message{typ: typePing, status: statusAlive, inc: inc, from: from, alive: 1, rumors: rumors}
}

func ack(from string, inc uint64, rumors ...rumor) *message {
	m := ping(from, inc, rumors...)
	m.typ = typeAck
	return m
}

func gossip(from string, inc uint64, rumors ...rumor) *message {
	m := ping(from, inc, rumors...)
	m.typ = typeGossip
	return m
}

func leaving(from string, inc uint64) *message {
	m := ping(from, inc)
	m.status = statusLeft
	return m
}

func dead(name string, inc uint64) rumor  { return rumor{name: name, status: statusDead, inc: inc} }
func alive(name string, inc uint64) rumor { return rumor{name: name, status: statusAlive, inc: inc} }

func with(m *message, f func(*message)) *message { f(m); return m }

// Steps.
type action func(h *harness) effects

func start() action { return func(h *harness) effects { return h.m.start(h.now) } }
func tick() action  { return func(h *harness) effects { return h.m.tick(h.now, false) } }

// tickBacklog is a tick while unread packets wait in the socket.
func tickBacklog() action { return func(h *harness) effects { return h.m.tick(h.now, true) } }
func peers(names string) action {
	return func(h *harness) effects { return h.m.setPeers(h.now, peerMap(names)) }
}
func leave() action { return func(h *harness) effects { return h.m.startLeave(h.now) } }
func setMeta(b string) action {
	return func(h *harness) effects { return h.m.setMeta(h.now, []byte(b)) }
}
func recv(msg *message) action {
	return func(h *harness) effects {
		if msg.seq == 0 {
			h.seq[msg.from]++
			msg.seq = h.seq[msg.from]
		}
		return h.m.receive(h.now, addrOf(msg.from), msg)
	}
}

// acks answers the join pings of a fresh machine from every named peer,
// each at incarnation 1.
func acks(names string) action {
	return func(h *harness) effects {
		var e effects
		for _, n := range strings.Fields(names) {
			r := recv(ack(n, 1))(h)
			e.sends = append(e.sends, r.sends...)
			e.transitions = append(e.transitions, r.transitions...)
			e.changed = e.changed || r.changed
		}
		return e
	}
}

type step struct {
	at    int    // ms after t0
	do    action // nil: just check
	alive string // expected Alive(), space separated; "" skips the check, "none" is empty
	check func(t *testing.T, h *harness, e effects)
}

func run(t *testing.T, cfg config, steps []step) *harness {
	t.Helper()
	h := &harness{t: t, m: newMachine(cfg, 1, t0), seq: map[string]uint64{}}
	for i, s := range steps {
		h.now = at(s.at)
		var e effects
		if s.do != nil {
			e = s.do(h)
		}
		// Every packet names its recipient, whose name its tag covers: a
		// wrong name would make the recipient reject it.
		for _, env := range e.sends {
			if addrOf(env.toName) != env.to {
				t.Fatalf("step %d (t=%dms): %v to %v is signed for %q", i, s.at, env.msg.typ, env.to, env.toName)
			}
		}
		if s.alive != "" {
			want := strings.Fields(strings.TrimPrefix(s.alive, "none"))
			got := slices.Clone(h.m.published)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("step %d (t=%dms): Alive() = %v, want %v", i, s.at, got, want)
			}
		}
		if s.check != nil {
			t.Run(fmt.Sprintf("step%d", i), func(t *testing.T) { s.check(t, h, e) })
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	return h
}

// sent returns the messages of type typ sent to name.
func sent(e effects, name string, typ msgType) []*message {
	var out []*message
	for _, env := range e.sends {
		if env.to == addrOf(name) && env.msg.typ == typ {
			out = append(out, env.msg)
		}
	}
	return out
}

func hasRumor(msgs []*message, r rumor) bool {
	for _, m := range msgs {
		for _, x := range m.rumors {
			if x.name == r.name && x.status == r.status && x.inc == r.inc {
				return true
			}
		}
	}
	return false
}

func expectSent(typ msgType, names string, r *rumor) func(*testing.T, *harness, effects) {
	return func(t *testing.T, h *harness, e effects) {
		for _, n := range strings.Fields(names) {
			msgs := sent(e, n, typ)
			if len(msgs) == 0 {
				t.Errorf("no %v sent to %s; sent: %s", typ, n, describe(e))
			} else if r != nil && !hasRumor(msgs, *r) {
				t.Errorf("%v to %s lacks rumor %+v", typ, n, *r)
			}
		}
	}
}

func expectNotSent(typ msgType, names string) func(*testing.T, *harness, effects) {
	return func(t *testing.T, h *harness, e effects) {
		for _, n := range strings.Fields(names) {
			if len(sent(e, n, typ)) > 0 {
				t.Errorf("%v sent to %s; sent: %s", typ, n, describe(e))
			}
		}
	}
}

func describe(e effects) string {
	var parts []string
	for _, env := range e.sends {
		parts = append(parts, fmt.Sprintf("%v->%v(%d rumors)", env.msg.typ, env.to.Addr(), len(env.msg.rumors)))
	}
	return strings.Join(parts, " ")
}

func both(fs ...func(*testing.T, *harness, effects)) func(*testing.T, *harness, effects) {
	return func(t *testing.T, h *harness, e effects) {
		for _, f := range fs {
			f(t, h, e)
		}
	}
}

// joined is the common prefix: a starts with peers b, c, d, which all
// answer its join pings at 1 ms. With fanout 3, a pings all three.
func joined() []step {
	return []step{
		{at: 0, do: peers("b c d"), alive: "none"},
		{at: 0, do: start(), alive: "none", check: expectSent(typePing, "b c d", nil)},
		{at: 1, do: acks("b c d"), alive: "a b c d"},
	}
}

// keepAlive has every named peer answer a's pings from..to, every 50 ms.
func keepAlive(from, to int, names string) []step {
	var out []step
	for ms := from; ms <= to; ms += 50 {
		out = append(out, step{at: ms, do: tick()})
		for _, n := range strings.Fields(names) {
			out = append(out, step{at: ms + 1, do: recv(ack(n, 1))})
		}
	}
	return out
}

func cat(parts ...[]step) []step { return slices.Concat(parts...) }

func TestMachine(t *testing.T) {
	deadC := dead("c", 1)
	tests := []struct {
		name  string
		steps []step
	}{
		{"join completes when every peer answered", cat(
			[]step{
				{at: 0, do: peers("b c d")},
				{at: 0, do: start(), alive: "none", check: func(t *testing.T, h *harness, e effects) {
					// All pinged with the joining flag; fanout of them asked for state.
					asked := 0
					for _, n := range []string{"b", "c", "d"} {
						for _, m := range sent(e, n, typePing) {
							if m.flags&flagJoining == 0 {
								t.Errorf("join ping to %s lacks the joining flag", n)
							}
							if m.flags&flagWantState != 0 {
								asked++
							}
						}
					}
					if asked != 3 {
						t.Errorf("%d peers asked for state, want 3", asked)
					}
				}},
				{at: 1, do: recv(ack("b", 1)), alive: "none"},
				{at: 1, do: recv(ack("c", 1)), alive: "none"},
				{at: 2, do: recv(ack("d", 1)), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if !e.changed {
						t.Error("Alive changed without changed=true")
					}
				}},
			}),
		},
		{"join waits one timeout for a silent peer, then goes without it", []step{
			{at: 0, do: peers("b c d")},
			{at: 0, do: start()},
			{at: 1, do: acks("b c")},
			{at: 50, do: tick(), alive: "none", check: expectSent(typePing, "d", nil)},
			{at: 249, do: tick(), alive: "none"},
			{at: 250, do: tick(), alive: "a b c", check: func(t *testing.T, h *harness, e effects) {
				if p := h.m.peerInfo()[2]; p.Name != "d" || p.State != "unknown" {
					t.Errorf("d is %+v, want unknown", p)
				}
			}},
		}},
		{"join: a settled member's state reply settles the dead", []step{
			{at: 0, do: peers("b c d")},
			{at: 0, do: start()},
			{at: 1, do: recv(with(ack("b", 1, dead("d", 7)), func(m *message) { m.flags = flagState })), alive: "none"},
			{at: 1, do: recv(ack("c", 1)), alive: "a b c"},
			// d's stale heartbeat cannot resurrect it; a new incarnation does.
			{at: 2, do: recv(ping("d", 7)), alive: "a b c", check: expectSent(typeGossip, "d", &rumor{name: "d", status: statusDead, inc: 7})},
			{at: 3, do: recv(ping("d", 8)), alive: "a b c d"},
		}},
		{"join: a state reply from a joining member settles nothing", []step{
			{at: 0, do: peers("b c d")},
			{at: 0, do: start()},
			{at: 1, do: recv(with(ack("b", 1, dead("d", 0)), func(m *message) { m.flags = flagState | flagJoining })), alive: "none"},
			{at: 1, do: recv(ack("c", 1)), alive: "none"},
			{at: 250, do: tick(), alive: "a b c"},
		}},
		{"no peers yet: no view, however long we run", []step{
			{at: 0, do: start(), alive: "none"},
			{at: 5000, do: tick(), alive: "none"},
			{at: 5001, do: peers(""), alive: "a"},
		}},
		{"heartbeat timeout declares a successor dead and tells everyone", cat(
			joined(),
			keepAlive(50, 100, "b c d"),
			keepAlive(150, 300, "b d"),
			[]step{
				// c last answered at 101 ms: dead at 351, not before.
				{at: 350, do: tick(), alive: "a b c d"},
				{at: 351, do: tick(), alive: "a b d", check: both(
					expectSent(typeGossip, "b c d", &deadC),
					func(t *testing.T, h *harness, e effects) {
						if len(e.transitions) != 1 || e.transitions[0].to != statusDead || e.transitions[0].silence != 250*time.Millisecond {
							t.Errorf("transitions %+v, want c dead after 250ms of silence", e.transitions)
						}
					})},
			}),
		},
		{"no verdict while unread packets wait in our socket", cat(
			joined(),
			keepAlive(50, 100, "b c d"),
			keepAlive(150, 300, "b d"),
			[]step{
				// c's deadline (101+250) passes while its ack is unread.
				{at: 351, do: tickBacklog(), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if d := h.m.deadline(at(351)); d.After(at(352)) {
						t.Errorf("next tick at %v, want within a millisecond", d.Sub(t0))
					}
				}},
				{at: 352, do: recv(ack("c", 1))},
				{at: 352, do: tick(), alive: "a b c d"},
			}),
		},
		{"overdue successor is pinged faster", cat(
			joined(),
			[]step{
				{at: 50, do: tick(), check: expectSent(typePing, "b", nil)},
				// No ack since 1 ms: overdue at 76 ms, then every 12.5 ms.
				{at: 75, do: tick(), check: expectNotSent(typePing, "b")},
				{at: 76, do: tick(), check: expectSent(typePing, "b", nil)},
				{at: 88, do: tick(), check: expectNotSent(typePing, "b")},
				{at: 89, do: tick(), check: expectSent(typePing, "b", nil)},
			}),
		},
		{"a stall of our own is not blamed on the successors", cat(
			joined(),
			[]step{
				{at: 50, do: tick()},
				// Not scheduled for 400 ms (350 ms lost): acks may sit
				// unread in the socket.
				{at: 450, do: tick(), alive: "a b c d"},
				{at: 451, do: acks("b c")},
			},
			keepAlive(500, 550, "b c"),
			[]step{
				// d's deadline moved by the 350 ms lost: 1+250+350.
				{at: 600, do: tick(), alive: "a b c d"},
				{at: 601, do: tick(), alive: "a b c"},
			}),
		},
		{"a falsely suspected member refutes with a higher incarnation", cat(
			joined(),
			[]step{
				{at: 10, do: recv(gossip("b", 1, dead("c", 1))), alive: "a b d"},
				// c's heartbeats at its old incarnation do not bring it back...
				{at: 11, do: recv(ping("c", 1)), alive: "a b d", check: expectSent(typeGossip, "c", &deadC)},
				// ...its refutation does.
				{at: 12, do: recv(gossip("c", 2)), alive: "a b c d"},
				// A late copy of the verdict is stale now.
				{at: 13, do: recv(gossip("d", 1, dead("c", 1))), alive: "a b c d"},
			}),
		},
		{"news is taken only from members held alive", cat(
			joined(),
			[]step{
				{at: 10, do: recv(gossip("b", 1, dead("d", 1))), alive: "a b c"},
				// d, dead to us, reports b dead: ignored.
				{at: 11, do: recv(gossip("d", 1, dead("b", 1))), alive: "a b c"},
			}),
		},
		{"a member that leaves is dropped at once", cat(
			joined(),
			[]step{
				{at: 10, do: recv(leaving("b", 1)), alive: "a c d", check: func(t *testing.T, h *harness, e effects) {
					if len(e.transitions) != 1 || e.transitions[0].to != statusLeft {
						t.Errorf("transitions %+v, want b left", e.transitions)
					}
					expectSent(typeAck, "b", nil)(t, h, e)
				}},
				// Its heartbeats at the same incarnation, delayed in the
				// network, do not bring it back.
				{at: 11, do: recv(ack("b", 1)), alive: "a c d"},
				// Left members are not probed.
				{at: 1000, do: tick(), check: expectNotSent(typePing, "b")},
			}),
		},
		{"leave: we stay in Alive until every live member acknowledged", cat(
			joined(),
			[]step{
				{at: 10, do: leave(), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					for _, n := range []string{"b", "c", "d"} {
						msgs := sent(e, n, typePing)
						if len(msgs) != 1 || msgs[0].status != statusLeft {
							t.Errorf("to %s: %d pings, want one saying left", n, len(msgs))
						}
					}
				}},
				{at: 11, do: acks("b c"), alive: "a b c d"},
				{at: 35, do: tick(), check: both(expectSent(typePing, "d", nil), expectNotSent(typePing, "b c"))},
				{at: 36, do: recv(ack("d", 1)), alive: "b c d", check: func(t *testing.T, h *harness, e effects) {
					if !e.leaveDone {
						t.Error("leave not done after the last ack")
					}
				}},
				// Still answering, as left.
				{at: 40, do: recv(ping("b", 1)), alive: "b c d", check: func(t *testing.T, h *harness, e effects) {
					if msgs := sent(e, "b", typeAck); len(msgs) != 1 || msgs[0].status != statusLeft {
						t.Errorf("ack after leave: %s", describe(e))
					}
				}},
				{at: 2000, do: tick(), alive: "b c d", check: expectNotSent(typePing, "b c d")},
			}),
		},
		{"leave gives up on members that never answer", cat(
			joined(),
			[]step{
				{at: 10, do: leave(), alive: "a b c d"},
				{at: 35, do: tick()},
				{at: 60, do: tick()},
				{at: 85, do: tick()},
				{at: 110, do: tick(), alive: "a b c d", check: expectSent(typePing, "b c d", nil)},
				{at: 135, do: tick(), alive: "b c d", check: func(t *testing.T, h *harness, e effects) {
					if !e.leaveDone || len(e.sends) != 0 {
						t.Errorf("leaveDone=%v, sends %s; want done after 5 attempts", e.leaveDone, describe(e))
					}
				}},
			}),
		},
		{"a restarted member is recognised by its new incarnation", cat(
			joined(),
			[]step{
				{at: 10, do: recv(gossip("b", 1, dead("c", 1))), alive: "a b d"},
				// c restarts: new incarnation, packet numbers from 1 again.
				{at: 20, do: recv(with(ping("c", 500), func(m *message) { m.seq = 1; m.meta = []byte("new") })), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if p := h.m.peers["c"]; p.inc != 500 || string(p.meta) != "new" {
						t.Errorf("c is at incarnation %d with meta %q", p.inc, p.meta)
					}
				}},
			}),
		},
		{"a restart below the previous incarnation is told to catch up", cat(
			joined(),
			[]step{
				{at: 10, do: recv(ping("b", 10)), alive: "a b c d"},
				{at: 20, do: recv(with(ping("b", 3), func(m *message) { m.seq = 1 })), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if e.drop != "replay" {
						t.Errorf("drop = %q, want replay", e.drop)
					}
					expectSent(typeGossip, "b", &rumor{name: "b", status: statusAlive, inc: 10})(t, h, e)
				}},
			}),
		},
		{"replayed packets are dropped", cat(
			joined(),
			[]step{
				{at: 10, do: recv(with(gossip("b", 1, dead("c", 1)), func(m *message) { m.seq = 100 })), alive: "a b d"},
				{at: 20, do: recv(gossip("c", 2)), alive: "a b c d"},
				{at: 30, do: recv(with(gossip("b", 1, dead("c", 1)), func(m *message) { m.seq = 100 })), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if e.drop != "replay" {
						t.Errorf("drop = %q, want replay", e.drop)
					}
				}},
			}),
		},
		{"our own name from the network is ignored", cat(
			joined(),
			[]step{
				{at: 10, do: recv(leaving("a", 1)), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if e.drop != "self" {
						t.Errorf("drop = %q, want self", e.drop)
					}
				}},
			}),
		},
		{"a death verdict about us from our side: out-bid it everywhere", cat(
			joined(),
			[]step{
				{at: 10, do: recv(gossip("b", 1, dead("a", 1))), alive: "a b c d", check: both(
					expectSent(typeGossip, "b c d", nil),
					func(t *testing.T, h *harness, e effects) {
						if !e.refuted || h.m.inc != 2 {
							t.Errorf("refuted=%v inc=%d, want a refutation at incarnation 2", e.refuted, h.m.inc)
						}
						for _, env := range e.sends {
							if env.msg.inc != 2 {
								t.Errorf("refutation carries incarnation %d", env.msg.inc)
							}
						}
					})},
				// An old verdict is not refuted twice.
				{at: 11, do: recv(gossip("c", 1, dead("a", 1))), alive: "a b c d", check: func(t *testing.T, h *harness, e effects) {
					if e.refuted || len(e.sends) != 0 {
						t.Errorf("stale verdict: refuted=%v sends %s", e.refuted, describe(e))
					}
				}},
			}),
		},
		{"a verdict from a member we hold dead, that still sees more an interval later: we were cut off, rejoin", cat(
			joined(),
			[]step{
				// We declared everyone dead while cut off.
				{at: 10, do: recv(gossip("b", 1, dead("c", 1), dead("d", 1))), alive: "a b"},
				{at: 11, do: recv(gossip("b", 1, dead("b", 1))), alive: "a"},
				// c, whom we hold dead, sees 3 alive and holds us dead: we
				// ask for its fresh state, and decide an interval later.
				{at: 20, do: recv(with(gossip("c", 1, dead("a", 1)), func(m *message) { m.alive = 3 })), alive: "a", check: func(t *testing.T, h *harness, e effects) {
					if e.refuted || h.m.joining {
						t.Errorf("acted at once: refuted=%v joining=%v", e.refuted, h.m.joining)
					}
					expectSent(typePing, "c", nil)(t, h, e)
				}},
				{at: 21, do: recv(with(ack("c", 1), func(m *message) { m.alive = 3 }))},
				{at: 69, do: tick(), check: func(t *testing.T, h *harness, e effects) {
					if h.m.joining {
						t.Error("rejoined before the interval passed")
					}
				}},
				{at: 70, do: tick(), alive: "a", check: func(t *testing.T, h *harness, e effects) {
					if !e.refuted || !h.m.joining || h.m.inc != 2 {
						t.Errorf("refuted=%v joining=%v inc=%d: want a rejoin at incarnation 2", e.refuted, h.m.joining, h.m.inc)
					}
					// The rejoin pings everyone.
					expectSent(typePing, "b c d", nil)(t, h, e)
				}},
				// Relearnt from the members' own answers, despite our old verdicts.
				{at: 71, do: acks("b c d"), alive: "a b c d"},
			}),
		},
		{"a stale verdict (queued while the link was down) is checked against fresh state", cat(
			joined(),
			[]step{
				{at: 10, do: recv(gossip("b", 1, dead("c", 1))), alive: "a b d"},
				// c's old packet, sent when it still saw 3, arrives late...
				// We tell c that it is dead to us, and ask for its state.
				{at: 20, do: recv(with(gossip("c", 1, dead("a", 1)), func(m *message) { m.alive = 3 })), alive: "a b d",
					check: both(expectSent(typeGossip, "c", &deadC), expectSent(typePing, "c", nil))},
				// ...its answer says it sees only itself now.
				{at: 21, do: recv(with(ack("c", 1), func(m *message) { m.alive = 1 }))},
				{at: 70, do: tick(), alive: "a b d", check: func(t *testing.T, h *harness, e effects) {
					if e.refuted || h.m.joining || h.m.inc != 1 {
						t.Errorf("refuted=%v joining=%v inc=%d: want no reaction", e.refuted, h.m.joining, h.m.inc)
					}
				}},
				// c rejoins when it gets our notice.
				{at: 72, do: recv(with(ping("c", 2), func(m *message) { m.flags = flagJoining })), alive: "a b c d"},
			}),
		},
		{"a verdict from a member we hold dead, that sees fewer: it was cut off, ignore", cat(
			joined(),
			[]step{
				{at: 10, do: recv(gossip("b", 1, dead("c", 1))), alive: "a b d"},
				{at: 20, do: recv(with(gossip("c", 1, dead("a", 1), dead("b", 1)), func(m *message) { m.alive = 1 })), alive: "a b d", check: func(t *testing.T, h *harness, e effects) {
					// c is told it is dead to us, so it rejoins.
					expectSent(typeGossip, "c", &deadC)(t, h, e)
				}},
				{at: 100, do: tick(), alive: "a b d", check: func(t *testing.T, h *harness, e effects) {
					if e.refuted || h.m.inc != 1 || h.m.joining {
						t.Errorf("refuted=%v inc=%d: want no reaction", e.refuted, h.m.inc)
					}
				}},
			}),
		},
		{"members added and removed by SetPeers", cat(
			joined(),
			[]step{
				// A new member is greeted at once, but is not alive until heard.
				{at: 10, do: peers("b c d e"), alive: "a b c d", check: expectSent(typePing, "e", nil)},
				{at: 11, do: recv(ack("e", 1)), alive: "a b c d e"},
				{at: 20, do: peers("b d e"), alive: "a b d e"},
				// A removed member's packets change nothing.
				{at: 21, do: recv(ping("c", 9)), alive: "a b d e"},
			}),
		},
		{"meta changes raise the incarnation and are broadcast", cat(
			joined(),
			[]step{
				{at: 10, do: setMeta("02:00:c6:33:64:0b"), check: func(t *testing.T, h *harness, e effects) {
					for _, n := range []string{"b", "c", "d"} {
						msgs := sent(e, n, typeGossip)
						if len(msgs) != 1 || msgs[0].inc != 2 || string(msgs[0].meta) != "02:00:c6:33:64:0b" {
							t.Errorf("to %s: %s", n, describe(e))
						}
					}
				}},
				{at: 11, do: setMeta("02:00:c6:33:64:0b"), check: func(t *testing.T, h *harness, e effects) {
					if len(e.sends) != 0 || h.m.inc != 2 {
						t.Errorf("unchanged meta: inc %d, sends %s", h.m.inc, describe(e))
					}
				}},
				{at: 12, do: recv(ping("b", 2, rumor{name: "c", status: statusAlive, inc: 3, meta: []byte("c-macs")})), check: func(t *testing.T, h *harness, e effects) {
					if got := h.m.peerInfo()[1]; got.Name != "c" || string(got.Meta) != "c-macs" {
						t.Errorf("c's meta: %+v", got)
					}
				}},
				// Held dead, c keeps the meta of its last live incarnation:
				// its MACs are still a speaker's.
				{at: 13, do: recv(ping("b", 2, rumor{name: "c", status: statusDead, inc: 3})), check: func(t *testing.T, h *harness, e effects) {
					if got := h.m.peerInfo()[1]; got.State != "dead" || string(got.Meta) != "c-macs" {
						t.Errorf("c held dead: %+v", got)
					}
				}},
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, testConfig, tc.steps) })
	}
}

// The ring: each node pings its fanout successors in hash order, and the
// set follows the alive members.
func TestMachineRing(t *testing.T) {
	all := "b c d e f g h"
	ringOrder := func(names string) []string {
		ns := strings.Fields(names)
		slices.SortFunc(ns, func(x, y string) int {
			return compareRing(ringEntry{ringKey(x), x}, ringEntry{ringKey(y), y})
		})
		// rotate to start after "a"
		i := slices.IndexFunc(ns, func(n string) bool {
			return compareRing(ringEntry{ringKey(n), n}, ringEntry{ringKey("a"), "a"}) > 0
		})
		if i < 0 {
			i = 0
		}
		return append(ns[i:], ns[:i]...)
	}
	pinged := func(e effects) []string {
		var out []string
		for _, env := range e.sends {
			if env.msg.typ == typePing {
				for _, n := range strings.Fields(all + " i") {
					if env.to == addrOf(n) {
						out = append(out, n)
					}
				}
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(ns []string) []string { ns = slices.Clone(ns); slices.Sort(ns); return ns }

	h := &harness{t: t, m: newMachine(testConfig, 1, t0), seq: map[string]uint64{}}
	h.m.setPeers(at(0), peerMap(all))
	h.m.start(at(0))
	h.now = at(1)
	acks(all)(h)
	order := ringOrder(all)
	if got := sorted(h.m.succ); !slices.Equal(got, sorted(order[:3])) {
		t.Fatalf("successors %v, want the next 3 in hash order %v", got, order[:3])
	}
	if got := pinged(h.m.tick(at(2), false)); !slices.Equal(got, sorted(order[:3])) {
		t.Fatalf("pinged %v, want %v", got, order[:3])
	}

	// The first successor dies (someone else's verdict): the next one
	// moves up and is pinged at once, with a full timeout ahead.
	h.now = at(10)
	e := recv(gossip(order[1], 1, dead(order[0], 1)))(h)
	e2 := h.m.tick(at(10), false)
	want := sorted(order[1:4])
	if got := sorted(h.m.succ); !slices.Equal(got, want) {
		t.Fatalf("after %s died: successors %v, want %v", order[0], got, want)
	}
	if got := pinged(effects{sends: append(e.sends, e2.sends...)}); !slices.Contains(got, order[3]) {
		t.Fatalf("new successor %s not pinged at once (pinged %v)", order[3], got)
	}
	if p := h.m.peers[order[3]]; !p.monitorSince.Equal(at(10)) {
		t.Fatalf("new successor monitored since %v, want %v", p.monitorSince, at(10))
	}

	// A member added by SetPeers that answers joins the ring too.
	h.m.setPeers(at(20), peerMap(all+" i"))
	h.now = at(21)
	recv(ack("i", 1))(h)
	wantAll := ringOrder(strings.ReplaceAll(all, order[0], "") + " i")
	if got := sorted(h.m.succ); !slices.Equal(got, sorted(wantAll[:3])) {
		t.Fatalf("after adding i: successors %v, want %v", got, wantAll[:3])
	}
	// Removing members shrinks the ring; with two peers left both are pinged.
	h.m.setPeers(at(30), peerMap(wantAll[0]+" "+wantAll[1]))
	if got := sorted(h.m.succ); !slices.Equal(got, sorted(wantAll[:2])) {
		t.Fatalf("after removing: successors %v, want %v", got, wantAll[:2])
	}
}

// A member that is not our successor is never declared dead by us, however
// long we do not hear from it: its own monitors do that.
func TestMachineJudgesOnlySuccessors(t *testing.T) {
	h := &harness{t: t, m: newMachine(testConfig, 1, t0), seq: map[string]uint64{}}
	names := "b c d e f g h"
	h.m.setPeers(at(0), peerMap(names))
	h.m.start(at(0))
	h.now = at(1)
	acks(names)(h)
	for ms := 50; ms <= 5000; ms += 50 {
		h.now = at(ms)
		h.m.tick(h.now, false)
		for _, s := range slices.Clone(h.m.succ) {
			h.now = at(ms + 1)
			recv(ack(s, 1))(h)
		}
	}
	if got := h.m.published; len(got) != 8 {
		t.Fatalf("Alive = %v, want all 8", got)
	}
}

func TestRumorQueue(t *testing.T) {
	var q rumorQueue
	q.add(alive("b", 1), 2)
	q.add(dead("c", 1), 3)
	q.add(dead("b", 1), 1) // replaces b's entry
	got := q.take(10)
	if len(got) != 2 || got[0].name != "c" || got[1].status != statusDead {
		t.Fatalf("take: %+v", got)
	}
	if got := q.take(10); len(got) != 1 || got[0].name != "c" {
		t.Fatalf("second take: %+v (b had one transmission)", got)
	}
	q.take(10)
	if got := q.take(10); got != nil {
		t.Fatalf("exhausted queue returned %+v", got)
	}
}

func TestDigestIsOrderIndependentAndSensitive(t *testing.T) {
	mk := func(order []string) *machine {
		m := newMachine(testConfig, 1, t0)
		ps := map[string]netip.AddrPort{}
		for _, n := range order {
			ps[n] = addrOf(n)
		}
		m.setPeers(t0, ps)
		for _, n := range order {
			m.peers[n].inc, m.peers[n].status = 3, statusAlive
		}
		return m
	}
	x, y := mk([]string{"b", "c", "d"}), mk([]string{"d", "c", "b"})
	if x.digest() != y.digest() {
		t.Fatal("same view, different digests")
	}
	y.peers["c"].status = statusDead
	y.digestValid = false
	if x.digest() == y.digest() {
		t.Fatal("different views, same digest")
	}
	if !bytes.Equal(nil, x.meta) {
		t.Fatal("meta set")
	}
}

// SetPeers is called on every Node change: an unchanged list is a no-op,
// an address change is taken without touching the member's state.
func TestMachineSetPeersUnchangedAndMoved(t *testing.T) {
	h := run(t, testConfig, joined())
	before := h.m.peers["b"]
	if e := h.m.setPeers(at(10), peerMap("a b c d")); len(e.sends) != 0 || e.changed || h.m.peers["b"] != before {
		t.Fatalf("unchanged list (self included) had effects: %s", describe(e))
	}
	moved := peerMap("b c d")
	moved["b"] = netip.MustParseAddrPort("198.51.100.2:7946")
	if e := h.m.setPeers(at(11), moved); len(e.sends) != 0 || e.changed {
		t.Fatalf("address change had effects: %s", describe(e))
	}
	if p := h.m.peers["b"]; p.addr != moved["b"] || p.status != statusAlive || p.inc != 1 {
		t.Fatalf("b after moving: %+v", p)
	}
	e := h.m.tick(at(50), false)
	if len(sent(e, "b", typePing)) != 0 {
		t.Fatal("pinged b at its old address")
	}
	if !slices.ContainsFunc(e.sends, func(env envelope) bool { return env.to == moved["b"] && env.msg.typ == typePing }) {
		t.Fatalf("b not pinged at its new address: %s", describe(e))
	}
}
