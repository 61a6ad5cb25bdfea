package speakerscale

import (
	"math"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/procstat"
)

// Windows of the CPU measurement. procstat.CPUTime is exact to 10 ms only, so a
// measurement spans many changes and seconds.
const (
	// idleWindow is long enough to average the speaker's periodic work
	// (garbage collections, the reachability check): at 10,000 Services
	// its idle rate measured over 5 s swung between 20 and 70 ms/s.
	idleWindow   = 30 * time.Second
	settleWindow = 2 * time.Second
	// settledCPU is the most CPU a settled speaker uses in a settleWindow
	// (2.5 % of a core): liveness pings, GoBGP's connection attempts to a
	// peer that does not answer, layer 2 refreshes.
	settledCPU = 50 * time.Millisecond
	// changes1 is the changes per kind and size. A garbage collection of
	// the speaker's heap at 10,000 Services takes on the order of 0.1 s of
	// CPU (a 41 s profile of the idle speaker held 0.12 s of them), so
	// over 200 changes (a 12 s window) one collection more or less moved
	// a figure by about 0.5 ms per change: two runs of the same code gave
	// 639 and 1,769 µs per Service change.
	changes1 = 600
	pace     = 50 * time.Millisecond // one change every pace: 20 per second
)

// meter reads a process's CPU time, and the speaker's work (readWork).
type meter struct {
	tb   testing.TB
	pid  int
	work func() work
}

func (m meter) cpu() time.Duration {
	d, err := procstat.CPUTime(m.pid)
	if err != nil {
		m.tb.Fatalf("speaker CPU time: %v", err)
	}
	return d
}

// settle waits until the process has used at most limit in a settleWindow.
func (m meter) settle(limit time.Duration, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		start := m.cpu()
		time.Sleep(settleWindow)
		used := m.cpu() - start
		if used <= limit {
			return
		}
		if time.Now().After(deadline) {
			m.tb.Fatalf("the speaker did not settle in %v: %v CPU in the last %v", timeout, used, settleWindow)
		}
	}
}

// idle is the CPU time per second of wall time that the process uses with
// nothing changing.
func (m meter) idle() float64 {
	start, t0 := m.cpu(), time.Now()
	time.Sleep(idleWindow)
	return float64(m.cpu()-start) / float64(time.Since(t0))
}

// cpuTick is the resolution of procstat.CPUTime (USER_HZ).
const cpuTick = 10 * time.Millisecond

// cost is the speaker's CPU time per change of one kind, less its idle
// CPU, with how far that figure can be off.
type cost struct {
	us float64 // per change, idle subtracted
	// noiseUS bounds the error of us: the idle rate measured before and
	// after the changes differs by that much over the measured time, plus
	// the clock's resolution at both ends, per change. A change that costs
	// less than its noise cannot be told from idle: us then says only
	// that the cost is below noiseUS (even when us is negative).
	noiseUS    float64
	idleMsPerS [2]float64 // idle before and after
	// elapsed is the time from the first change until the speaker
	// settled: the window the CPU was counted over.
	elapsed time.Duration
	// work is what the passes did over that window, per change.
	work work
}

// perChange makes changes1 changes of one kind, one every pace (started,
// when set, is called just before the first), waits
// until the speaker has settled again, and returns the speaker's CPU time
// per change, less what it uses idle over the same wall time (the mean of
// the idle rates measured just before and just after).
func (m meter) perChange(w *world, ch change, first int, started func()) cost {
	before := m.idle()
	if started != nil {
		started()
	}
	limit := max(settledCPU, time.Duration(2*before*float64(settleWindow)))
	w0 := m.work()
	start, t0 := m.cpu(), time.Now()
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for i := range changes1 {
		<-tick.C
		if err := ch.do(w, first+i); err != nil {
			m.tb.Fatalf("%s change %d: %v", ch.name, i, err)
		}
	}
	m.settle(limit, 2*time.Minute)
	used, elapsed := m.cpu()-start, time.Since(t0)
	did := m.work().minus(w0)
	after := m.idle()
	c := costOf(used, elapsed, before, after, changes1)
	c.work = work{ips: did.ips / changes1, passes: did.passes / changes1}
	return c
}

// costOf is perChange's arithmetic: used CPU over elapsed wall time for n
// changes, with the idle rates (CPU per wall time) before and after.
func costOf(used, elapsed time.Duration, before, after float64, n int) cost {
	idle := (before + after) / 2
	work := float64(used) - idle*float64(elapsed)
	spread := math.Abs(before-after) / 2 * float64(elapsed)
	perUS := float64(n) * float64(time.Microsecond)
	return cost{
		us:         work / perUS,
		noiseUS:    (spread + float64(2*cpuTick)) / perUS,
		idleMsPerS: [2]float64{before * 1000, after * 1000},
		elapsed:    elapsed,
	}
}
