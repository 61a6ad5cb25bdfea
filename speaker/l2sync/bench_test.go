package l2sync

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/cputime"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
	"github.com/ironlb/ironlb/speaker/view/viewtest"
)

// benchWorld is a speaker's view and layer 2 tracker over a
// viewtest.Cluster: n Services with 10 endpoints each on 100 nodes.
type benchWorld struct {
	*viewtest.Cluster
	v     *view.View
	c     *view.Consumer
	tr    *l2plan.Tracker
	cfg   *config.Config
	alive []string
}

func newBenchWorld(b testing.TB, n int) *benchWorld {
	cfg, errs := config.Compile(config.Resources{
		Pools:            []v1beta1.IPAddressPool{{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"2001:db8:300::/112"}}}},
		L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"l2"}}}},
	})
	if errs != nil {
		b.Fatal(errs)
	}
	w := &benchWorld{Cluster: viewtest.NewCluster(n, "l2"), v: view.New(), tr: l2plan.NewTracker(), cfg: cfg}
	w.c = w.v.Consumer(func() {})
	for _, nd := range w.Nodes {
		w.alive = append(w.alive, nd.Name)
	}
	w.Feed(w.v)
	w.sync()
	return w
}

// sync is what a layer 2 wake does with the view: apply its changes and
// re-elect.
func (w *benchWorld) sync() int {
	Apply(w.tr, w.v.Changes(w.c))
	w.tr.SetConfig(w.cfg)
	w.tr.SetAlive(w.alive)
	_, changed := w.tr.Update()
	return len(changed)
}

// BenchmarkLayer2Change measures a speaker's layer 2 work for one change
// (view update, plan update and election) with 1,000 and 10,000 Services of
// 10 endpoints on 100 nodes (viewtest.Changes: a node turning NotReady
// or Ready leaves or joins the one candidate group of every Cluster IP,
// which re-elects the IPs it owned or can take and the Local IPs with an
// endpoint on it, not every IP), and reports per kind of change the CPU
// µs at
// each size and their ratio 10,000 / 1,000 (flat is 1). Status writes and
// ARP/NDP are not included.
func BenchmarkLayer2Change(b *testing.B) {
	small, large := newBenchWorld(b, 1000), newBenchWorld(b, 10000)
	changes := append(viewtest.Changes[:len(viewtest.Changes):len(viewtest.Changes)], speakerLiveness(small, large))
	viewtest.MeasureChanges(b, changes, small.world(), large.world())
}

// speakerLiveness is a node's speaker found dead by its peers, and alive
// again on the next change: the same re-election as a node turning
// NotReady or Ready, reached through the live set instead of the Node.
func speakerLiveness(worlds ...*benchWorld) viewtest.Change {
	return viewtest.Change{Name: "speaker-liveness", Rounds: 100, Do: func(c *viewtest.Cluster, _ *view.View, i int) {
		for _, w := range worlds {
			if w.Cluster != c {
				continue
			}
			n := c.Nodes[1+(i/2*37)%99].Name // not node000, as viewtest.Changes
			if j := slices.Index(w.alive, n); j >= 0 {
				w.alive = slices.Delete(w.alive, j, j+1)
			} else {
				w.alive = append(w.alive, n)
			}
		}
	}}
}

func (w *benchWorld) world() viewtest.World {
	return viewtest.World{Cluster: w.Cluster, View: w.v, Sync: func() { w.sync() }}
}

// BenchmarkLayer2FromScratch is what every wake cost before the view: list
// everything, condense every Service, elect every IP (the listing's copies
// from the cache not included). Compare with BenchmarkLayer2Change.
func BenchmarkLayer2FromScratch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		w := newBenchWorld(b, n)
		var ns []l2plan.Node
		for _, nd := range w.Nodes {
			ns = append(ns, l2plan.NodeFrom(nd))
		}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			runtime.GC()
			start, runs := cputime.Used(), 0
			for b.Loop() {
				plan := l2plan.Compute(w.cfg, lbstate.Build(w.Services, w.Slices), ns, w.alive)
				if len(plan.Owners) != n {
					b.Fatalf("%d owners, want %d", len(plan.Owners), n)
				}
				runs++
			}
			b.ReportMetric(float64((cputime.Used()-start).Microseconds())/float64(runs), "cpu-us/plan")
		})
	}
}
