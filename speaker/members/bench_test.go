package members

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkDetection kills a speaker (its Run stops and its socket closes,
// without Leave: what kill -9 looks like to the others) in a 5-node cluster
// on loopback, 20 times per iteration at random phases of the ping cycle,
// and measures how long each survivor takes to drop it from Alive(). It
// reports the percentiles over all (kill, survivor) samples, and the
// spread: per kill, the time between the first and the last survivor to
// drop the victim (a window in which two nodes may both announce an
// address). false-deaths counts live nodes declared dead meanwhile.
func BenchmarkDetection(b *testing.B) { benchDetection(b, nil) }

// BenchmarkDetectionUnderLoad is BenchmarkDetection while the same process
// keeps both cores busy allocating (a GC cycle every few milliseconds), as
// a speaker's controllers would under a burst of API events. It also
// reports the GC cycles per second and the longest stop-the-world pause.
func BenchmarkDetectionUnderLoad(b *testing.B) {
	benchDetection(b, func(ctx context.Context) {
		var sink [][]byte
		for i := 0; ctx.Err() == nil; i++ {
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 256 { // about 16 MiB live
				sink = sink[:0]
			}
			if i%64 == 0 {
				runtime.Gosched()
			}
		}
	})
}

func benchDetection(b *testing.B, load func(context.Context)) {
	const size, kills = 5, 20
	nodes := startCluster(b, size, defaultTiming)
	everyone := slices.Clone(nodes) // for the metrics at the end
	waitFor(b, 5*time.Second, "all see all", allSee(nodes, names(nodes)))
	rng := rand.New(rand.NewPCG(1, 2))
	var lat, spread []time.Duration
	var gcBefore runtime.MemStats
	runtime.ReadMemStats(&gcBefore)
	start := time.Now()
	if load != nil {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 2 * runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() { defer wg.Done(); load(ctx) }()
		}
		defer func() { cancel(); wg.Wait() }()
	}
	b.ResetTimer()
	for i := range b.N {
		for k := range kills {
			vi := (i*kills + k) % size
			victim := nodes[vi]
			var rest []*liveNode
			for j, n := range nodes {
				if j != vi {
					rest = append(rest, n)
				}
			}
			time.Sleep(time.Duration(rng.Int64N(int64(DefaultInterval)))) // random phase
			got := watchDrop(rest, victim.name)
			kill := time.Now()
			victim.stop()
			times := got()
			first, last := times[0], times[0]
			for _, t := range times {
				lat = append(lat, t.Sub(kill))
				if t.Before(first) {
					first = t
				}
				last = latest(last, t)
			}
			spread = append(spread, last.Sub(first))

			// Restart it under the same name and port, and let the
			// cluster settle.
			again := newLiveNode(b, victim.name, listenLoopback(b, victim.addr.Port()), testSecret, defaultTiming)
			peers := map[string]netip.AddrPort{}
			for _, n := range nodes {
				peers[n.name] = n.addr
			}
			if err := again.m.SetPeers(peers); err != nil {
				b.Fatal(err)
			}
			again.start(b)
			nodes[vi] = again
			everyone = append(everyone, again)
			waitFor(b, 5*time.Second, "rejoined", allSee(nodes, names(nodes)))
			time.Sleep(2 * DefaultInterval)
		}
	}
	b.StopTimer()
	// Every kill is one "dead" transition on each survivor; any other
	// is a live node declared dead.
	var deaths float64
	for _, n := range everyone {
		deaths += metric(b, n.reg, "ironlb_members_transitions_total", "dead")
	}
	b.ReportMetric(deaths-float64(b.N*kills*(size-1)), "false-deaths")
	if load != nil {
		var gc runtime.MemStats
		runtime.ReadMemStats(&gc)
		var worst uint64
		for _, p := range gc.PauseNs {
			worst = max(worst, p)
		}
		b.ReportMetric(float64(gc.NumGC-gcBefore.NumGC)/time.Since(start).Seconds(), "gc/s")
		b.ReportMetric(float64(worst)/1e6, "max-gc-pause-ms")
	}
	slices.Sort(lat)
	slices.Sort(spread)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(ms(percentile(spread, 0.99)), "spread-p99-ms")
	b.ReportMetric(float64(len(lat)), "samples")
}

// watchDrop starts watching the nodes' Changes() and returns a function
// that waits until every node dropped name, and returns when each did.
func watchDrop(nodes []*liveNode, name string) func() []time.Time {
	times := make([]time.Time, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		select { // drop a stale signal
		case <-n.m.Changes():
		default:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slices.Contains(n.m.Alive(), name) {
				select {
				case <-n.m.Changes():
				case <-time.After(10 * time.Second):
					panic(fmt.Sprintf("%s never dropped %s", n.name, name))
				}
			}
			times[i] = time.Now()
		}()
	}
	return func() []time.Time { wg.Wait(); return times }
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// BenchmarkReceive is the CPU cost of one incoming packet: authenticate,
// decode, and run the state machine (a ring neighbour's ping, in a
// 100-member view), answer included.
func BenchmarkReceive(b *testing.B) {
	s := newSim(b, 100, 1)
	s.bootAll()
	s.runFor(time.Second)
	n := s.nodes[s.names[0]]
	from := s.nodes[s.names[1]]
	c := testCodec(testSecret)
	msg := from.m.header(typePing, 0, s.now)
	seq := uint64(1 << 40)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		seq++
		pkt := c.encode(msg, testTo, func() uint64 { return seq })[0]
		d, err := c.decode(pkt, testTo)
		if err != nil {
			b.Fatal(err)
		}
		e := n.m.receive(s.now, from.addr, d)
		for _, env := range e.sends {
			c.encode(env.msg, testTo, func() uint64 { return seq })
		}
	}
}

// BenchmarkSimulatedCluster runs a simulated cluster (virtual clock) in
// steady state and reports packets sent per node per second: constant in
// the cluster size, where full-mesh heartbeats would grow with it.
func BenchmarkSimulatedCluster(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			var perNode float64
			for range b.N {
				s := newSim(b, size, 3)
				s.bootAll()
				s.runFor(time.Second)
				for _, n := range s.nodes {
					n.sent = 0
				}
				s.runFor(2 * time.Second)
				total := 0
				for _, n := range s.nodes {
					total += n.sent
				}
				perNode = float64(total) / float64(size) / 2
			}
			b.ReportMetric(perNode, "pkts/node/s")
			b.ReportMetric(float64(size-1)*1000/float64(DefaultInterval/time.Millisecond), "full-mesh-pkts/node/s")
		})
	}
}
