package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// plannedStopLimit bounds a stop that was asked for (SIGTERM) while this
// process still holds the Lease: the elector keeps renewing meanwhile, so no
// other replica can act, and the kubelet's own grace period (30 s by
// default) is the limit that matters.
const plannedStopLimit = 25 * time.Second

// work is the leader-only work of one term: a controller-runtime manager
// built fresh for the term, which rebuilds its state from the API server.
// Start returns once every runnable of it has returned.
type work interface {
	Start(ctx context.Context) error
}

// campaigner runs leader terms one after another in this process: it
// campaigns for the Lease, runs a fresh manager while it leads, and when the
// Lease is lost stops that manager and, once it has surely stopped,
// campaigns again. afterTerm decides between campaigning again and exiting.
type campaigner struct {
	// lock is the process's Lease lock (the twin guard around it: one for
	// the process's life, so it knows every renewal this process wrote,
	// whichever term wrote it). nil: no leader election, one term that
	// lasts as long as the process.
	lock                                      resourcelock.Interface
	name                                      string // the election's name in the leader election metrics
	leaseDuration, renewDeadline, retryPeriod time.Duration
	// grace is how long the work may take to stop once the Lease is lost
	// (stopGrace).
	grace time.Duration
	// newWork builds the manager of a term.
	newWork func() (work, error)
	log     logr.Logger
}

// run campaigns and leads, term after term, until afterTerm says to stop.
func (c *campaigner) run(ctx context.Context) error {
	if c.lock == nil {
		w, err := c.newWork()
		if err != nil {
			return err
		}
		_, exit := afterTerm(termEnd{err: c.lead(ctx, context.Background(), w, 0), stopping: cause(ctx)})
		return exit
	}
	for n := 1; ; n++ {
		err := c.term(ctx, n)
		again, exit := afterTerm(termEnd{err: err, stopping: cause(ctx)})
		if !again {
			if exit != nil {
				c.log.Error(exit, "exiting", "term", n)
			}
			return exit
		}
		if errors.Is(err, errNotBuilt) {
			c.log.Error(err, "campaigning again in this process", "nextTerm", n+1, "after", c.retryPeriod.String())
		} else {
			c.log.Info("leader-only work stopped after the Lease was lost; campaigning again in this process", "term", n, "nextTerm", n+1)
		}
		// Never a busy loop, whatever ended the term.
		select {
		case <-ctx.Done():
		case <-time.After(c.retryPeriod):
		}
	}
}

// term campaigns until this process wins the Lease or ctx is done, then
// leads until the Lease is lost or ctx is done, and returns once the
// leader-only work has stopped. It returns errLeadershipLost when the Lease
// was lost and the work stopped in time, nil when ctx was done.
func (c *campaigner) term(ctx context.Context, n int) error {
	// Built before campaigning: building asks the API server (for the
	// cache's REST mappings), and failing then costs nothing, as this
	// process does not hold the Lease for this term yet.
	w, err := c.newWork()
	if err != nil {
		return fmt.Errorf("term %d: %w: %w", n, errNotBuilt, err)
	}
	// The elector outlives a stop asked for through ctx: it renews the
	// Lease until the work has stopped, so no other replica can act while
	// it stops. It never releases the Lease itself (client-go would do so
	// as soon as renewing fails, before the work has stopped); release
	// does, after a clean stop.
	electCtx, stopElecting := context.WithCancel(context.WithoutCancel(ctx))
	electorDone := make(chan struct{})
	defer func() { stopElecting(); <-electorDone }()
	won := make(chan context.Context, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          c.lock,
		LeaseDuration: c.leaseDuration,
		RenewDeadline: c.renewDeadline,
		RetryPeriod:   c.retryPeriod,
		Name:          c.name,
		Callbacks: leaderelection.LeaderCallbacks{
			// client-go calls this on a goroutine of its own: hand
			// the term's context over and return.
			OnStartedLeading: func(lead context.Context) { won <- lead },
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				c.log.Info("leader observed", "term", n, "leader", id)
			},
		},
	})
	if err != nil {
		close(electorDone)
		return fmt.Errorf("leader election: %w", err)
	}
	go func() { defer close(electorDone); le.Run(electCtx) }()
	c.log.Info("campaigning", "term", n, "lease", c.lock.Describe(), "identity", c.lock.Identity())

	var lead context.Context
	select {
	case lead = <-won:
	case <-ctx.Done():
		return nil
	}
	start := time.Now()
	c.log.Info("elected: starting leader-only work", "term", n)
	err = c.lead(ctx, lead, w, n)
	switch {
	case errors.Is(err, errStopTimeout):
		return err
	case lead.Err() != nil && ctx.Err() == nil:
		if err != nil {
			c.log.Error(err, "leader-only work failed while it stopped after the Lease was lost", "term", n)
		}
		return fmt.Errorf("term %d after %v: %w", n, time.Since(start).Round(time.Millisecond), errLeadershipLost)
	case ctx.Err() != nil:
		if lead.Err() == nil {
			// Still the leader, and the work has stopped: hand over
			// at once rather than make a standby wait for the Lease
			// to expire.
			stopElecting()
			<-electorDone
			c.release()
		}
		return err
	default:
		return err
	}
}

// lead runs w until lead (the term: cancelled when the Lease is lost) or
// ctx (the process) is done or w fails, and returns once w has returned.
// When w has not returned within c.grace after the Lease was lost, or
// plannedStopLimit after a stop was asked for, lead returns
// errStopTimeout without waiting longer: only the process's exit is then
// sure to stop it.
func (c *campaigner) lead(ctx, lead context.Context, w work, n int) error {
	workCtx, stopWork := context.WithCancel(lead)
	defer stopWork()
	done := make(chan error, 1)
	go func() { done <- w.Start(workCtx) }()
	select {
	case err := <-done:
		if err == nil {
			err = errors.New("the manager stopped by itself")
		}
		return fmt.Errorf("leader-only work: %w", err)
	case <-lead.Done():
		c.log.Info("Lease lost: stopping leader-only work", "term", n, "within", c.grace.String())
	case <-ctx.Done():
		c.log.Info("stopping leader-only work", "term", n, "reason", context.Cause(ctx))
	}
	stopWork()
	begin := time.Now()
	err, stopped := awaitStop(done, lead.Done(), c.grace, plannedStopLimit)
	if !stopped {
		return fmt.Errorf("term %d: %w within %v (%v once the Lease is lost, %v for a requested stop)", n, errStopTimeout, time.Since(begin).Round(time.Millisecond), c.grace, plannedStopLimit)
	}
	c.log.Info("leader-only work stopped", "term", n, "took", time.Since(begin).Round(time.Microsecond).String())
	return err
}

// awaitStop waits for done. It gives up after limit, or grace after lost
// is closed (at once if it is already), whichever comes first.
func awaitStop(done <-chan error, lost <-chan struct{}, grace, limit time.Duration) (err error, stopped bool) {
	limitTimer := time.NewTimer(limit)
	defer limitTimer.Stop()
	var graceOver <-chan time.Time
	for {
		select {
		case err := <-done:
			return err, true
		case <-lost:
			lost = nil
			t := time.NewTimer(grace)
			defer t.Stop()
			graceOver = t.C
		case <-graceOver:
			return nil, false
		case <-limitTimer.C:
			return nil, false
		}
	}
}

// release gives the Lease up after the work of a term stopped cleanly on
// request, as client-go's ReleaseOnCancel would, but only then. It must be
// called once the elector has stopped (the lock caches the Lease it read).
func (c *campaigner) release() {
	ctx, cancel := context.WithTimeout(context.Background(), c.renewDeadline)
	defer cancel()
	rec, _, err := c.lock.Get(ctx)
	if err == nil && rec.HolderIdentity != c.lock.Identity() {
		return
	}
	if err == nil {
		now := metav1.NewTime(time.Now())
		err = c.lock.Update(ctx, resourcelock.LeaderElectionRecord{
			LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1,
			RenewTime: now, AcquireTime: now,
		})
	}
	if err != nil {
		c.log.Error(err, "the Lease was not released: a standby takes over once it expires", "lease", c.lock.Describe())
		return
	}
	c.log.Info("Lease released", "lease", c.lock.Describe())
}

// cause is why ctx is done, nil while it is not.
func cause(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}
