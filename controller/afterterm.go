package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errStopTimeout ends the process when the leader-only work of a term did
// not stop in time: exiting is then the only sure way to stop it before
// another replica can take the Lease and act beside it.
var errStopTimeout = errors.New("leader-only work did not stop in time")

// errLeadershipLost is what a term ends with when the elector could not
// renew the Lease within the renew deadline (API server frozen, etcd down,
// a network cut) and its work stopped cleanly.
var errLeadershipLost = errors.New("leadership lost")

// errNotBuilt ends a term before its campaign when its manager could not
// be built (the API server did not answer the discovery it needs): nothing
// ran and the Lease was not taken, so the next campaign may follow.
var errNotBuilt = errors.New("the leader-only work could not be built")

// termEnd says how a leader term (or a campaign that was never won) ended.
type termEnd struct {
	// err is what the term returned: nil, errLeadershipLost, errNotBuilt,
	// errStopTimeout, or the error of the manager that ran the leader-only
	// work.
	err error
	// stopping is the cause of the process's context once it is done (a
	// signal: context.Canceled; errTwin), nil while the process runs on.
	stopping error
}

// afterTerm is the one place that decides what the process does when a
// term ends: campaign again (true), or stop with the returned error (nil:
// a clean exit).
//
//   - Leader-only work that did not stop in time (errStopTimeout) and
//     another live process with this identity (errTwin) end the process
//     with an error, whatever else happened: only its exit is sure to stop
//     the work, and a twin must not lead.
//   - A stop for any other cause than a signal (the every-replica manager
//     failed) ends it with that cause; a signal ends it cleanly.
//   - Lost leadership, with the work stopped, means campaigning again; so
//     does a term whose manager could not be built (the API server did not
//     answer), before it campaigned.
//   - Any other error of the leader-only work (a controller or the cache
//     failed) ends the process with that error, as before: the container
//     restart is the recovery.
func afterTerm(e termEnd) (again bool, exit error) {
	switch {
	case errors.Is(e.err, errStopTimeout), errors.Is(e.err, errTwin):
		return false, e.err
	case e.stopping != nil && !errors.Is(e.stopping, context.Canceled):
		return false, e.stopping
	case e.stopping != nil:
		return false, nil
	case errors.Is(e.err, errLeadershipLost), errors.Is(e.err, errNotBuilt):
		return true, nil
	case e.err != nil:
		return false, e.err
	default:
		return false, errors.New("leader-only work ended without an error while the process runs on and leads")
	}
}

// stopGrace is how long the leader-only work of a term may take to stop
// once the Lease is lost. The elector gives up at most a retry period plus
// the renew deadline after its last successful renewal, and a standby may
// take the Lease a Lease duration after it saw that renewal: the work must
// be gone in between.
func stopGrace(leaseDuration, renewDeadline, retryPeriod time.Duration) (time.Duration, error) {
	g := leaseDuration - renewDeadline - retryPeriod
	if g <= 0 {
		return 0, fmt.Errorf("flags -lease-duration %v, -renew-deadline %v, -retry-period %v: the Lease duration must exceed the renew deadline plus a retry period, so that a replica that lost the Lease has time to stop before another takes it", leaseDuration, renewDeadline, retryPeriod)
	}
	return g, nil
}
