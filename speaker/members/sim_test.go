package members

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// A simulated LAN of state machines with a virtual clock: deterministic
// (seeded) tests of the whole protocol at sizes and failure patterns that
// real sockets in one test process cannot reach, with exact timings.

type simNode struct {
	name     string
	addr     netip.AddrPort
	m        *machine
	up       bool // process running
	paused   bool // process stalled: no ticks; packets wait in the socket
	held     []simPacket
	nextTick time.Time
	tickVer  uint64
	seq      uint64
	sent     int
	// history of Alive() changes
	views []simView
	// transitions seen by this node
	trans []simTransition
	joins int // join phases ended
}

type simView struct {
	at    time.Time
	alive []string
}

type simTransition struct {
	at time.Time
	transition
}

type simPacket struct {
	at    time.Time
	order uint64
	from  netip.AddrPort
	to    string
	msg   *message
}

type packetHeap []simPacket

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].order < h[j].order
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(simPacket)) }
func (h *packetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type simTick struct {
	at   time.Time
	node *simNode
	ver  uint64
}

type tickHeap []simTick

func (h tickHeap) Len() int           { return len(h) }
func (h tickHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h tickHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *tickHeap) Push(x any)        { *h = append(*h, x.(simTick)) }
func (h *tickHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type sim struct {
	t       testing.TB
	cfg     config
	now     time.Time
	nodes   map[string]*simNode
	names   []string
	byAddr  map[netip.AddrPort]string
	queue   packetHeap
	ticks   tickHeap
	order   uint64
	rng     *rand.Rand
	latency time.Duration
	loss    float64
	blocked map[[2]string]bool // from, to
	incs    uint64
}

func newSim(t testing.TB, n int, seed uint64) *sim {
	s := &sim{
		t: t, cfg: testConfig, now: t0,
		nodes: map[string]*simNode{}, byAddr: map[netip.AddrPort]string{},
		rng: rand.New(rand.NewPCG(seed, 1)), latency: 200 * time.Microsecond,
		blocked: map[[2]string]bool{},
	}
	for i := range n {
		name := fmt.Sprintf("node-%03d", i+1)
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%250)}), uint16(7946+i/250))
		s.names = append(s.names, name)
		s.nodes[name] = &simNode{name: name, addr: addr}
		s.byAddr[addr] = name
	}
	return s
}

func (s *sim) peerMap() map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	for _, n := range s.names {
		out[n] = s.nodes[n].addr
	}
	return out
}

// boot starts (or restarts) a node's process.
func (s *sim) boot(name string) {
	n := s.nodes[name]
	cfg := s.cfg
	cfg.self = name
	s.incs++
	n.m = newMachine(cfg, uint64(s.now.UnixNano())+s.incs, s.now)
	n.up, n.paused, n.held = true, false, nil
	n.seq = 0
	s.handle(n, n.m.setPeers(s.now, s.peerMap()))
	s.handle(n, n.m.start(s.now))
	s.schedule(n)
}

// schedule (re)arms a node's tick at its machine's deadline.
func (s *sim) schedule(n *simNode) {
	n.nextTick = n.m.deadline(s.now)
	n.tickVer++
	heap.Push(&s.ticks, simTick{at: n.nextTick, node: n, ver: n.tickVer})
}

func (s *sim) bootAll() {
	for _, n := range s.names {
		s.boot(n)
	}
}

func (s *sim) kill(name string) { s.nodes[name].up = false }

func (s *sim) handle(n *simNode, e effects) {
	if e.joined {
		n.joins++
	}
	for _, env := range e.sends {
		to, ok := s.byAddr[env.to]
		if !ok {
			s.t.Fatalf("%s sent to unknown address %v", n.name, env.to)
		}
		msg := *env.msg
		n.seq++
		msg.seq = n.seq
		n.sent++
		if s.blocked[[2]string{n.name, to}] || (s.loss > 0 && s.rng.Float64() < s.loss) {
			continue
		}
		s.order++
		jitter := time.Duration(s.rng.Int64N(int64(100 * time.Microsecond)))
		heap.Push(&s.queue, simPacket{at: s.now.Add(s.latency + jitter), order: s.order, from: n.addr, to: to, msg: &msg})
	}
	for _, tr := range e.transitions {
		n.trans = append(n.trans, simTransition{at: s.now, transition: tr})
	}
	if e.changed {
		n.views = append(n.views, simView{at: s.now, alive: slices.Clone(n.m.published)})
	}
}

func (s *sim) deliver(p simPacket) {
	n := s.nodes[p.to]
	if n.m == nil || !n.up {
		return
	}
	if n.paused {
		n.held = append(n.held, p)
		return
	}
	s.handle(n, n.m.receive(s.now, p.from, p.msg))
	s.schedule(n)
}

// runFor advances the virtual clock by d, processing packets and ticks in
// time order.
func (s *sim) runFor(d time.Duration) {
	end := s.now.Add(d)
	for {
		// Drop ticks that were rescheduled, or whose node is not running.
		for len(s.ticks) > 0 {
			t := s.ticks[0]
			if t.ver == t.node.tickVer && t.node.up && !t.node.paused {
				break
			}
			heap.Pop(&s.ticks)
		}
		next := end
		var tickNode *simNode
		if len(s.ticks) > 0 && s.ticks[0].at.Before(next) {
			next, tickNode = s.ticks[0].at, s.ticks[0].node
		}
		if len(s.queue) > 0 && !s.queue[0].at.After(next) {
			p := heap.Pop(&s.queue).(simPacket)
			s.now = latest(s.now, p.at)
			s.deliver(p)
			continue
		}
		if tickNode == nil {
			s.now = end
			return
		}
		s.now = latest(s.now, next)
		heap.Pop(&s.ticks)
		s.handle(tickNode, tickNode.m.tick(s.now, false))
		s.schedule(tickNode)
	}
}

// pause stalls a node's process; resume lets it run again, timer first (the
// worst order: it sees the time jump before the packets that waited).
func (s *sim) pause(name string) { s.nodes[name].paused = true }
func (s *sim) resume(name string) {
	n := s.nodes[name]
	n.paused = false
	s.handle(n, n.m.tick(s.now, false))
	held := n.held
	n.held = nil
	for _, p := range held {
		s.deliver(p)
	}
	s.schedule(n)
}

func (s *sim) cut(a string, others []string) {
	for _, b := range others {
		s.blocked[[2]string{a, b}] = true
		s.blocked[[2]string{b, a}] = true
	}
}

func (s *sim) heal() { s.blocked = map[[2]string]bool{} }

func (s *sim) except(names ...string) []string {
	return slices.DeleteFunc(slices.Clone(s.names), func(n string) bool { return slices.Contains(names, n) })
}

// dropTime is when observer's view last lost name (zero if it has it).
func (s *sim) dropTime(observer, name string) time.Time {
	n := s.nodes[observer]
	var t time.Time
	had := false
	for _, v := range n.views {
		has := slices.Contains(v.alive, name)
		if had && !has {
			t = v.at
		}
		if has {
			t = time.Time{}
		}
		had = has
	}
	if !had && t.IsZero() {
		return time.Time{}
	}
	return t
}

func (s *sim) expectAllSee(want []string) {
	s.t.Helper()
	for _, name := range want {
		if got := s.nodes[name].m.published; !slices.Equal(got, want) {
			s.t.Fatalf("at %v, %s sees %v, want %v", s.now.Sub(t0), name, got, want)
		}
	}
}

func TestSimJoinAndSteadyState(t *testing.T) {
	s := newSim(t, 50, 1)
	s.bootAll()
	s.runFor(100 * time.Millisecond)
	s.expectAllSee(s.names)
	// Every node joined within a few round trips, not a timeout.
	for _, name := range s.names {
		if v := s.nodes[name].views; len(v) == 0 || v[0].at.Sub(t0) > 10*time.Millisecond {
			t.Fatalf("%s first view at %v", name, v)
		}
	}
	// Steady state: constant packets per node, whatever the cluster size.
	for _, n := range s.nodes {
		n.sent = 0
	}
	s.runFor(10 * time.Second)
	s.expectAllSee(s.names)
	for _, name := range s.names {
		n := s.nodes[name]
		// fanout pings per interval, plus as many acks for our predecessors.
		perSecond := float64(n.sent) / 10
		if perSecond < 110 || perSecond > 130 {
			t.Errorf("%s sends %.0f packets/s, want about %d", name, perSecond, 2*testConfig.fanout*20)
		}
		if len(n.trans) != 49 { // the "alive" transitions of the first join
			t.Errorf("%s: %d transitions, want 49: %+v", name, len(n.trans), n.trans[49:])
		}
	}
}

func TestSimKillIsDetectedByEveryoneAtOnce(t *testing.T) {
	s := newSim(t, 20, 2)
	s.bootAll()
	s.runFor(time.Second)
	for i, victim := range []string{"node-007", "node-013", "node-001"} {
		s.runFor(time.Duration(17*i+3) * time.Millisecond) // vary the phase
		kill := s.now
		s.kill(victim)
		s.runFor(time.Second)
		survivors := s.except(victim)
		var first, last time.Time
		for _, o := range survivors {
			d := s.dropTime(o, victim)
			if d.IsZero() {
				t.Fatalf("%s never dropped %s", o, victim)
			}
			if first.IsZero() || d.Before(first) {
				first = d
			}
			last = latest(last, d)
		}
		// Detected within the timeout (the last ack came less than an
		// interval before the kill), and everyone within a millisecond of
		// the first detection: no window with two owners of an address.
		if lat := first.Sub(kill); lat < testConfig.timeout-testConfig.interval || lat > testConfig.timeout+time.Millisecond {
			t.Errorf("%s: detected %v after the kill, want within (timeout-interval, timeout]", victim, lat)
		}
		if spread := last.Sub(first); spread > time.Millisecond {
			t.Errorf("%s: views disagreed for %v", victim, spread)
		}
		t.Logf("%s: detected after %v, all views within %v", victim, first.Sub(kill), last.Sub(first))
		s.names = survivors
		s.expectAllSee(survivors)
	}
}

// More than fanout consecutive ring members failing together: the last is
// detected one timeout later, once its predecessors' successors move on.
func TestSimConsecutiveRingFailures(t *testing.T) {
	s := newSim(t, 16, 3)
	s.bootAll()
	s.runFor(time.Second)
	ring := s.nodes[s.names[0]].m.ring
	victims := ring[3:8] // five consecutive: one more than fanout+1
	kill := s.now
	for _, v := range victims {
		s.kill(v)
	}
	s.runFor(2 * time.Second)
	survivors := s.except(victims...)
	s.expectAllSee(survivors)
	var worst time.Duration
	for _, v := range victims {
		for _, o := range survivors {
			worst = max(worst, s.dropTime(o, v).Sub(kill))
		}
	}
	if worst > 2*testConfig.timeout+time.Millisecond {
		t.Fatalf("last of 5 consecutive failures detected after %v, want within 2 timeouts", worst)
	}
	t.Logf("5 consecutive ring members: all detected within %v", worst)
}

func TestSimLeaveIsImmediate(t *testing.T) {
	s := newSim(t, 10, 4)
	s.bootAll()
	s.runFor(time.Second)
	leaver := "node-004"
	start := s.now
	s.handle(s.nodes[leaver], s.nodes[leaver].m.startLeave(s.now))
	s.runFor(10 * time.Millisecond)
	for _, o := range s.except(leaver) {
		if d := s.dropTime(o, leaver).Sub(start); d < 0 || d > time.Millisecond {
			t.Fatalf("%s dropped the leaver after %v", o, d)
		}
	}
	// The leaver drops itself once everyone acknowledged: a round trip.
	if got := s.nodes[leaver].m.published; slices.Contains(got, leaver) {
		t.Fatalf("leaver still lists itself: %v", got)
	}
	s.runFor(2 * time.Second)
	s.expectAllSee(s.except(leaver))
}

// A node whose process stalls longer than the timeout is declared dead, then
// refutes when it runs again; it never blames the others for its own stall.
func TestSimStalledNodeRefutes(t *testing.T) {
	s := newSim(t, 10, 5)
	s.bootAll()
	s.runFor(time.Second)
	victim := "node-005"
	s.pause(victim)
	s.runFor(400 * time.Millisecond)
	s.expectAllSee(s.except(victim))
	s.resume(victim)
	s.runFor(10 * time.Millisecond)
	s.expectAllSee(s.names)
	for _, tr := range s.nodes[victim].trans[9:] {
		t.Errorf("stalled node recorded %+v", tr)
	}
	if s.nodes[victim].m.inc <= 1 {
		t.Errorf("no refutation")
	}
}

// A node cut off for a second: the rest drop it, it drops the rest. When
// the link returns, it rejoins within a few probe periods, and none of the
// others flaps (its stale verdicts about them are never believed).
func TestSimPartitionHeals(t *testing.T) {
	s := newSim(t, 12, 6)
	s.bootAll()
	s.runFor(time.Second)
	island := "node-003"
	rest := s.except(island)
	s.cut(island, rest)
	s.runFor(time.Second)
	s.expectAllSee(rest)
	if got := s.nodes[island].m.published; !slices.Equal(got, []string{island}) {
		t.Fatalf("island sees %v", got)
	}
	before := map[string]int{}
	incs := map[string]uint64{}
	for _, o := range rest {
		before[o] = len(s.nodes[o].trans)
		incs[o] = s.nodes[o].m.inc
	}
	healed := s.now
	s.heal()
	s.runFor(time.Second)
	s.expectAllSee(s.names)
	var rejoined time.Time
	for _, o := range rest {
		rejoined = latest(rejoined, s.nodes[o].views[len(s.nodes[o].views)-1].at)
		if s.nodes[o].m.inc != incs[o] {
			// Only the island refutes and rejoins; the others keep their
			// state (a cluster-wide rejoin would cost N² packets).
			t.Errorf("%s raised its incarnation after the heal", o)
		}
		for _, tr := range s.nodes[o].trans[before[o]:] {
			if tr.name != island {
				t.Errorf("%s: %s flapped to %v after the heal", o, tr.name, tr.to)
			}
		}
	}
	if d := rejoined.Sub(healed); d > 2*testConfig.probePeriod() {
		t.Errorf("rejoined %v after the heal, want within 2 probe periods", d)
	}
	t.Logf("island rejoined %v after the link came back", rejoined.Sub(healed))
}

// A two-way split of a larger cluster: each side continues with what it
// hears (split brain is expected), and the views merge after the heal.
func TestSimSplitBrainMerges(t *testing.T) {
	s := newSim(t, 10, 7)
	s.bootAll()
	s.runFor(time.Second)
	left, right := s.names[:4], s.names[4:]
	for _, a := range left {
		s.cut(a, right)
	}
	s.runFor(3 * time.Second)
	s.expectAllSee(left)
	s.expectAllSee(right)
	s.heal()
	s.runFor(2 * time.Second)
	s.expectAllSee(s.names)
}

func TestSimRestartRejoins(t *testing.T) {
	s := newSim(t, 8, 8)
	s.bootAll()
	s.runFor(time.Second)
	s.kill("node-002")
	s.runFor(time.Second)
	s.expectAllSee(s.except("node-002"))
	s.boot("node-002")
	s.runFor(20 * time.Millisecond)
	s.expectAllSee(s.names)
}

// 10% packet loss for a minute: no false verdict, thanks to faster pings
// once an ack is late.
func TestSimPacketLossCausesNoFalseDeaths(t *testing.T) {
	s := newSim(t, 10, 9)
	s.bootAll()
	s.runFor(time.Second)
	s.expectAllSee(s.names)
	s.loss = 0.10
	s.runFor(time.Minute)
	s.loss = 0
	s.runFor(time.Second)
	for _, name := range s.names {
		for _, tr := range s.nodes[name].trans[9:] {
			t.Errorf("%s: false transition %+v", name, tr)
		}
	}
}

// A member missing from one node's configuration (a Node watch lagging):
// the views differ, anti-entropy pushes back off instead of storming.
func TestSimDivergentConfigurationBacksOff(t *testing.T) {
	s := newSim(t, 10, 10)
	s.bootAll()
	s.runFor(time.Second)
	odd := s.nodes["node-004"]
	pm := s.peerMap()
	delete(pm, "node-009")
	s.handle(odd, odd.m.setPeers(s.now, pm))
	for _, n := range s.nodes {
		n.sent = 0
	}
	s.runFor(time.Minute)
	var total int
	for _, n := range s.nodes {
		total += n.sent
	}
	steady := 60 * 10 * 2 * testConfig.fanout * 20
	if total > steady*11/10 {
		t.Fatalf("%d packets in a minute, steady state is %d", total, steady)
	}
	t.Logf("a minute with one divergent configuration: %d packets (steady state %d)", total, steady)
}

// A node that is really gone stays dead on the survivors even when they
// rejoin among themselves (a short split between them, as a loaded machine
// or a flaky switch causes). Forgetting it would make it "never heard of",
// and the datapath presumes such a node's pods reachable.
func TestSimRejoinKeepsTheDeadDead(t *testing.T) {
	s := newSim(t, 3, 10)
	s.bootAll()
	s.runFor(time.Second)
	gone := "node-001"
	s.cut(gone, s.except(gone))
	s.runFor(time.Second)
	s.expectAllSee(s.except(gone))
	// The two survivors lose each other long enough to declare each other
	// dead: a tie, so both rejoin when they hear each other again.
	s.cut("node-002", []string{"node-003"})
	s.runFor(time.Second)
	s.heal()
	s.cut(gone, s.except(gone))
	s.runFor(2 * time.Second)
	s.expectAllSee(s.except(gone))
	for _, o := range s.except(gone) {
		if s.nodes[o].joins < 2 {
			t.Errorf("%s never rejoined: no tie after the split", o)
		}
		for _, p := range s.nodes[o].m.peerInfo() {
			if p.Name == gone && p.State != "dead" {
				t.Errorf("%s holds %s %q after its rejoin, want dead", o, gone, p.State)
			}
		}
	}
}
