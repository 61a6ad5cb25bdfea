package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/procstat"
)

// firstAddress records when each Service was created and when a watch first
// saw an address in its status, and counts later status rewrites.
type firstAddress struct {
	mu       sync.Mutex
	created  map[string]time.Time
	assigned map[string]time.Time
	modified map[string]int // MODIFIED events after the Service had its address
}

func newFirstAddress() *firstAddress {
	return &firstAddress{created: map[string]time.Time{}, assigned: map[string]time.Time{}, modified: map[string]int{}}
}

// watch follows the namespace's Services with an informer, which re-lists
// and resumes by itself if the API server closes the watch.
func (f *firstAddress) watch(tb testing.TB, e *env, ns string) {
	factory := informers.NewSharedInformerFactoryWithOptions(e.api.Clientset(tb), 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Services().Informer()
	seen := func(obj any, modified bool) {
		s, ok := obj.(*corev1.Service)
		if !ok {
			return
		}
		now := time.Now()
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, had := f.assigned[s.Name]; had {
			if modified {
				f.modified[s.Name]++
			}
		} else if len(s.Status.LoadBalancer.Ingress) > 0 {
			f.assigned[s.Name] = now
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { seen(obj, false) },
		UpdateFunc: func(old, obj any) {
			// Resyncs and re-lists deliver unchanged objects: only a new
			// resourceVersion is a write.
			if old.(*corev1.Service).ResourceVersion != obj.(*corev1.Service).ResourceVersion {
				seen(obj, true)
			}
		},
	}); err != nil {
		tb.Fatal(err)
	}
	stop := make(chan struct{})
	tb.Cleanup(func() { close(stop) })
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		tb.Fatal("service informer did not sync")
	}
}

func (f *firstAddress) markCreated(name string, at time.Time) {
	f.mu.Lock()
	f.created[name] = at
	f.mu.Unlock()
}

func (f *firstAddress) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.assigned)
}

func (f *firstAddress) has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.assigned[name]
	return ok
}

// latencies returns create->address latencies in creation order.
func (f *firstAddress) latencies(names []string) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Duration, 0, len(names))
	for _, n := range names {
		out = append(out, f.assigned[n].Sub(f.created[n]))
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// BenchmarkCreate5000Services creates 5,000 LoadBalancer Services at 100 per
// second against the real API server and measures how long each waits for
// its address; then restarts the controller and measures how fast a new
// Service is served and whether any old Service's status is rewritten.
// Run with -benchtime=1x: one iteration is the whole scenario.
func BenchmarkCreate5000Services(b *testing.B) {
	for range b.N {
		benchCreate(b, 5000, 100)
	}
}

func benchCreate(b *testing.B, n int, perSecond int) {
	e := newEnv(b, kubeapi.Options{})
	e.create(pool("bulk", "2001:db8:300::/112"))
	e.namespace("bench")
	rec := newFirstAddress()
	rec.watch(b, e, "bench")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	// Plain HTTP: this reads the controller's own latency histogram, the
	// authenticated endpoint is tested in e2e/monitoring.
	ctrl := e.startController("-metrics-bind-address", metricsAddr, "-metrics-secure=false", "-log-level", "info")

	names := make([]string, n)
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		<-tick.C
		names[i] = fmt.Sprintf("s-%05d", i)
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			rec.markCreated(name, time.Now())
			if err := e.c.Create(context.Background(), lbService("bench", name, ipv6())); err != nil {
				b.Errorf("create %s: %v", name, err)
			}
		}(names[i])
	}
	wg.Wait()
	waitFor(b, 2*time.Minute, "every service to get an address", func() (bool, error) {
		c := rec.count()
		return c == n, fmt.Errorf("%d of %d have an address", c, n)
	})
	lat := rec.latencies(names)
	last := lat[len(lat)-1]
	total := time.Since(start)
	mem, err := procstat.ReadMemory(ctrl.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	rss := procstat.MiB(mem.Peak)
	internalP99 := histogramQuantile(b, "http://"+metricsAddr+"/metrics", "ironlb_allocation_duration_seconds", 0.99)

	// Restart: a clean stop, a new process, one new Service at once.
	ctrl.stop(b)
	restarted := time.Now()
	e.startController()
	rec.markCreated("after-restart", time.Now())
	e.create(lbService("bench", "after-restart", ipv6()))
	waitFor(b, 30*time.Second, "the new service's address", func() (bool, error) { return rec.has("after-restart"), nil })
	afterRestart := rec.latencies([]string{"after-restart"})[0]
	sinceRestart := time.Since(restarted)
	time.Sleep(2 * time.Second)
	rec.mu.Lock()
	rewrites := 0
	for name, m := range rec.modified {
		if name != "after-restart" {
			rewrites += m
		}
	}
	rec.mu.Unlock()

	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(slices.Max(lat).Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(last.Microseconds())/1000, "last-ms")
	b.ReportMetric(total.Seconds(), "total-s")
	b.ReportMetric(rss, "peak-rss-MiB")
	b.ReportMetric(internalP99*1000, "controller-p99-ms")
	b.ReportMetric(float64(afterRestart.Microseconds())/1000, "restart-new-svc-ms")
	b.ReportMetric(sinceRestart.Seconds(), "restart-to-served-s")
	b.ReportMetric(float64(rewrites), "restart-rewrites")
	if rewrites != 0 {
		b.Errorf("%d status rewrites of unchanged Services after the restart", rewrites)
	}
}

// histogramQuantile reads a Prometheus histogram from a metrics endpoint
// and returns the upper bound of the bucket holding quantile q: the part
// of the latency spent inside the controller (reconcile start to status
// written), as opposed to the API server and watch delivery.
func histogramQuantile(tb testing.TB, url, name string, q float64) float64 {
	type bucket struct{ le, count float64 }
	var buckets []bucket
	for _, line := range strings.Split(scrape(tb, url), "\n") {
		rest, ok := strings.CutPrefix(line, name+`_bucket{le="`)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		l, err1 := strconv.ParseFloat(le, 64)
		c, err2 := strconv.ParseFloat(count, 64)
		if err1 == nil && err2 == nil {
			buckets = append(buckets, bucket{l, c})
		}
	}
	if len(buckets) == 0 {
		tb.Fatalf("no %s histogram at %s", name, url)
	}
	total := buckets[len(buckets)-1].count
	for _, bk := range buckets {
		if bk.count >= q*total {
			return bk.le
		}
	}
	return buckets[len(buckets)-1].le
}

// scrape reads a Prometheus endpoint.
func scrape(tb testing.TB, url string) string {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(body)
}
