package viewtest

import (
	"runtime"
	"testing"
	"time"

	"github.com/ironlb/ironlb/pkg/cputime"
	"github.com/ironlb/ironlb/speaker/view"
)

// World is a view over a Cluster and what one of its consumers does on a
// wake.
type World struct {
	Cluster *Cluster
	View    *view.View
	Sync    func()
}

// MeasureChanges applies, in every b.Loop iteration, each change Rounds
// times to the 1,000-Service world and to the 10,000-Service one, each
// followed by a Sync, and reports per change the CPU µs per change at each
// size (NAME-1k-cpu-us, NAME-10k-cpu-us) and their ratio (NAME-ratio, flat
// is 1): CPU time, because on a shared machine wall time measures the
// neighbours more than the code.
func MeasureChanges(b *testing.B, changes []Change, w1k, w10k World) {
	total := map[string][2]time.Duration{}
	n := 0
	for b.Loop() {
		for _, ch := range changes {
			t := total[ch.Name]
			for k, w := range []World{w1k, w10k} {
				runtime.GC() // the setup's and the other size's garbage is not this change's
				start := cputime.Used()
				for i := range ch.Rounds {
					ch.Do(w.Cluster, w.View, n*ch.Rounds+i)
					w.Sync()
				}
				t[k] += cputime.Used() - start
			}
			total[ch.Name] = t
		}
		n++
	}
	for _, ch := range changes {
		t := total[ch.Name]
		us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n*ch.Rounds) }
		b.ReportMetric(us(t[0]), ch.Name+"-1k-cpu-us")
		b.ReportMetric(us(t[1]), ch.Name+"-10k-cpu-us")
		b.ReportMetric(float64(t[1])/float64(max(t[0], 1)), ch.Name+"-ratio")
	}
}
