package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// errTwin stops a process that found another live process leading with its
// identity.
var errTwin = errors.New("another live process holds the Lease with this process's leader election identity; leader election identities must be unique per process (the default, the pod name, is)")

// twinGuard wraps the Lease lock. client-go treats a Lease held by its own
// identity as its own; that is what lets a restarted controller take over
// from its dead predecessor at once, but two live processes with one
// identity would both lead. The guard notices a write to the Lease under
// this identity that this process did not make, and then stops this
// process from reading or writing the Lease (so it cannot renew, nor
// "release" the other's Lease on the way out) and calls onTwin.
type twinGuard struct {
	resourcelock.Interface
	onTwin func()

	mu      sync.Mutex
	written []time.Time // renew times this process wrote, or tried to, since it last read its own write back
	twin    bool
}

// maxPending bounds written: only writes that may still land matter, and a
// write older than the last one read back cannot land any more.
const maxPending = 16

func (g *twinGuard) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	if err := g.check(); err != nil {
		return nil, nil, err
	}
	rec, raw, err := g.Interface.Get(ctx)
	if err != nil {
		return rec, raw, err
	}
	g.mu.Lock()
	twin := foreignWrite(g.Identity(), g.written, rec)
	if twin {
		g.twin = true
	} else if i := slices.IndexFunc(g.written, func(t time.Time) bool { return t.Equal(microTime(rec.RenewTime.Time)) }); i >= 0 {
		g.written = g.written[i:]
	}
	g.mu.Unlock()
	if twin {
		g.onTwin()
		return nil, nil, fmt.Errorf("lease %s renewed at %s by another process: %w", g.Describe(), rec.RenewTime.UTC().Format(time.RFC3339Nano), errTwin)
	}
	return rec, raw, nil
}

func (g *twinGuard) Create(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	if err := g.wrote(rec); err != nil {
		return err
	}
	return g.Interface.Create(ctx, rec)
}

func (g *twinGuard) Update(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	if err := g.wrote(rec); err != nil {
		return err
	}
	return g.Interface.Update(ctx, rec)
}

// wrote remembers a write before it is sent: a write that fails on the
// client (a timeout) may still have been applied.
func (g *twinGuard) wrote(rec resourcelock.LeaderElectionRecord) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.twin {
		return errTwin
	}
	if rec.HolderIdentity == g.Identity() {
		g.written = append(g.written, microTime(rec.RenewTime.Time))
		if len(g.written) > maxPending {
			g.written = g.written[len(g.written)-maxPending:]
		}
	}
	return nil
}

func (g *twinGuard) check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.twin {
		return errTwin
	}
	return nil
}

// foreignWrite reports whether a Lease record read back was written under
// id by another process: this process has written under id (before its
// first write, the holder is a dead predecessor, whose Lease it may take),
// and the record's renew time is none this process wrote.
func foreignWrite(id string, written []time.Time, got *resourcelock.LeaderElectionRecord) bool {
	if got.HolderIdentity != id || len(written) == 0 {
		return false
	}
	renew := microTime(got.RenewTime.Time)
	return !slices.ContainsFunc(written, renew.Equal)
}

// microTime is t as a Lease stores it (metav1.MicroTime: microseconds).
func microTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
