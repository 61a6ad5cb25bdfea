package controller_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// churnServices is how many Services the churn test creates; every other
// one is deleted again shortly after.
const churnServices = 1000

// churnKills is how many times the controller is killed during the churn.
const churnKills = 10

// TestKillingTheControllerDuringChurnNeverDuplicatesOrChangesAnAddress
// creates Services and deletes every other one again shortly after, and
// kills the controller (SIGKILL, leader election on) ten times during that
// churn, each time starting it again in its "pod" (same identity) and
// waiting until it has addressed another Service. A watch of every Service
// sees no moment at which two Services hold one address and no Service
// whose address changes.
func TestKillingTheControllerDuringChurnNeverDuplicatesOrChangesAnAddress(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("v4", "203.0.113.0/24"))
	e.create(pool("v6", "2001:db8:300:4::/112"))
	e.namespace("apps")
	log := watchAddresses(t, e, "apps")
	const identity = "ironlb-controller-0"
	args := append([]string{"-leader-elect=true", "-leader-election-identity", identity}, shortLease...)
	ctrl := e.startController(args...)

	// kills counts the kills done; the churn waits at each kill's mark
	// until it has happened, so every kill lands in the middle of it.
	var kills, created atomic.Int32
	mark := func(k int32) int32 { return k * churnServices / (churnKills + 1) }
	name := func(i int) string { return fmt.Sprintf("s-%03d", i) }
	done := make(chan error, 1)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for i := range churnServices {
			for k := kills.Load(); k < churnKills && int32(i) >= mark(k+1); k = kills.Load() {
				if ctx.Err() != nil {
					done <- ctx.Err()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			var opts []svcOpt
			if i%4 != 0 {
				opts = append(opts, ipv6())
			}
			if err := e.c.Create(ctx, lbService("apps", name(i), opts...)); err != nil {
				done <- fmt.Errorf("create %s: %w", name(i), err)
				return
			}
			// Even Services live for four creations, some not long
			// enough to get an address.
			if i >= 4 && i%2 == 0 {
				if err := e.c.Delete(ctx, lbService("apps", name(i-4))); err != nil {
					done <- fmt.Errorf("delete %s: %w", name(i-4), err)
					return
				}
			}
			created.Add(1)
		}
		done <- nil
	}()

	for k := int32(1); k <= churnKills; k++ {
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d Services created", mark(k)), func() (bool, error) {
			return created.Load() >= mark(k), nil
		})
		before := log.Addressed()
		ctrl.kill()
		ctrl = e.startController(args...)
		kills.Add(1)
		waitFor(t, 30*time.Second, fmt.Sprintf("the controller restarted after kill %d to address a Service", k), func() (bool, error) {
			if err := log.Err(); err != nil {
				t.Fatal(err)
			}
			return log.Addressed() > before, fmt.Errorf("%d Services addressed, as before the kill", before)
		})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	churn := time.Since(start)

	// Every Service still there has its address; the last even ones were
	// not deleted.
	for i := 1; i < churnServices; i += 2 {
		e.waitForIPs("apps", name(i), 1)
	}
	// A late, wrong rewrite by the last controller would show in the
	// watch: give it the time a full resync of the survivors takes.
	time.Sleep(time.Second)
	rep := log.Report()
	t.Logf("%d Services created, %d deleted, %d addressed, controller killed %d times, in %v",
		churnServices, churnServices/2-2, rep.Addressed, churnKills, churn.Round(time.Millisecond))
	if rep.Addressed < churnServices/2 {
		t.Errorf("only %d Services were ever addressed", rep.Addressed)
	}
	if rep.Ended != nil {
		t.Fatalf("the watch ended early, so it did not see everything: %v", rep.Ended)
	}
	for _, d := range rep.Duplicates {
		t.Errorf("duplicate address: %s", d)
	}
	for name, sets := range rep.Changed {
		t.Errorf("%s changed address: %v", name, sets)
	}
	if !ctrl.alive() {
		t.Fatal("controller died")
	}
}
