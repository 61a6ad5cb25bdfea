package speakerscale

import (
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/procstat"
)

// Windows of the CPU measurement. procstat.CPUTime is exact to 10 ms only, so a
// measurement spans many changes and seconds.
const (
	idleWindow   = 5 * time.Second
	settleWindow = 2 * time.Second
	// settledCPU is the most CPU a settled speaker uses in a settleWindow
	// (2.5 % of a core): liveness pings, GoBGP's connection attempts to a
	// peer that does not answer, layer 2 refreshes.
	settledCPU = 50 * time.Millisecond
	changes1   = 200                   // changes per kind and size
	pace       = 50 * time.Millisecond // one change every pace: 20 per second
)

// meter reads a process's CPU time.
type meter struct {
	tb  testing.TB
	pid int
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

// perChange makes changes1 changes of one kind, one every pace, waits
// until the speaker has settled again, and returns the speaker's CPU time
// per change in µs, less what it uses idle over the same wall time
// (measured just before).
func (m meter) perChange(w *world, ch change, first int) (us, idleMsPerS float64) {
	idle := m.idle()
	limit := max(settledCPU, time.Duration(2*idle*float64(settleWindow)))
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
	used := m.cpu() - start
	work := float64(used) - idle*float64(time.Since(t0))
	return work / float64(changes1) / float64(time.Microsecond), idle * 1000
}
