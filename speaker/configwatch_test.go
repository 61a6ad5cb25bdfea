package main

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// Against a real API server: the controller rewrites a pool's address
// counts whenever a Service takes or frees an address, and that must not
// make the speaker compile the configuration again and wake its layer 2
// and BGP passes (a new configuration makes them decide every IP again).
// The controller's report on an object compiles again but wakes nothing;
// a change of the pool's spec does both.
func TestConfigWatchWakesThePassesOnlyForAChange(t *testing.T) {
	api, c := startAPI(t)
	ctx := context.Background()
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/28"}},
	}
	if err := c.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}

	mgr := newTestManager(t, api)
	var store atomic.Pointer[config.Config]
	woken := &trigger.Trigger{}
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	t.Cleanup(queue.ShutDown)
	if err := woken.Source().Start(ctx, queue); err != nil {
		t.Fatal(err)
	}
	cc := &countingClient{Client: mgr.GetClient()}
	w := &configWatch{client: cc, log: logr.Discard(), store: &store, changed: []*trigger.Trigger{woken}}
	if err := w.setup(mgr); err != nil {
		t.Fatal(err)
	}
	kubeapi.StartManager(t, mgr)

	// compiles waits until pool p holds the address in the configuration
	// in force, empties the wake queue, and returns how many compiles (one
	// List per kind each) there were so far.
	const kinds = 6
	compiles := func(step, addr string) int64 {
		t.Helper()
		waitFor(t, step+": pool p holding "+addr, func() bool {
			cfg := store.Load()
			if cfg == nil {
				return false
			}
			p, ok := cfg.Pool("p")
			return ok && p.Contains(netip.MustParseAddr(addr))
		})
		for queue.Len() > 0 {
			r, _ := queue.Get()
			queue.Done(r)
		}
		return cc.lists.Load() / kinds
	}
	// The start compiles once, and the pool's first event may compile
	// again: count from when that has settled.
	start := compiles("start", "203.0.113.15")
	for settled := time.Now(); time.Since(settled) < time.Second; {
		time.Sleep(100 * time.Millisecond)
		if n := compiles("start", "203.0.113.15"); n != start {
			start, settled = n, time.Now()
		}
	}

	// The counts change twice; each write is in the cache before the next
	// step, so a compile it caused would have been counted by then.
	for _, assigned := range []int64{1, 2} {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
			t.Fatal(err)
		}
		pool.Status.IPv4 = &v1beta1.PoolFamilyStatus{Total: 16, Assigned: assigned, Available: 16 - assigned}
		if err := c.Status().Update(ctx, pool); err != nil {
			t.Fatal(err)
		}
		waitCached(t, mgr.GetClient(), pool)
	}
	time.Sleep(500 * time.Millisecond)
	if n := compiles("counts changed", "203.0.113.15"); n != start {
		t.Fatalf("the pool's counts changed: %d compiles, want %d", n, start)
	}
	if queue.Len() != 0 {
		t.Fatal("the pool's counts woke the layer 2 and BGP passes")
	}

	// The controller's report on the pool compiles again, to what is in
	// force: nothing is woken.
	if err := c.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
		t.Fatal(err)
	}
	pool.Status.Conditions = []metav1.Condition{{Type: "Valid", Status: metav1.ConditionTrue, Reason: "Valid", LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx, pool); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the report compiled", func() bool { return cc.lists.Load()/kinds == start+1 })
	time.Sleep(200 * time.Millisecond) // the compile's lists are done; its wake would follow at once
	if queue.Len() != 0 {
		t.Fatal("a recompile to the configuration in force woke the layer 2 and BGP passes")
	}

	// The positive check beside both: a spec change compiles once more and
	// wakes them.
	if err := c.Get(ctx, client.ObjectKeyFromObject(pool), pool); err != nil {
		t.Fatal(err)
	}
	pool.Spec.Addresses = []string{"203.0.113.0/27"}
	if err := c.Update(ctx, pool); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spec change woke the passes", func() bool { return queue.Len() > 0 })
	if n := compiles("spec changed", "203.0.113.16"); n != start+2 {
		t.Fatalf("the pool's spec changed: %d compiles, want %d", n, start+2)
	}
}

// waitCached waits until the manager's cache holds pool at its
// resourceVersion.
func waitCached(t *testing.T, c client.Reader, pool *v1beta1.IPAddressPool) {
	t.Helper()
	waitFor(t, "the cache to reach resourceVersion "+pool.ResourceVersion+" of pool "+pool.Name, func() bool {
		var got v1beta1.IPAddressPool
		err := c.Get(context.Background(), client.ObjectKeyFromObject(pool), &got)
		return err == nil && got.ResourceVersion == pool.ResourceVersion
	})
}

// waitFor waits up to 30 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
