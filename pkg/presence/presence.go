// Package presence is how the controller knows that at least one speaker
// is running. The speakers watch each other directly (speaker/members) and
// keep every status true among themselves while one of them lives; when the
// last one is gone nobody is left to say so. So the speaker that writes the
// shared statuses (one at a time, chosen from the live members) renews one
// Lease, and the controller takes over the statuses once that Lease stops
// being renewed. One Lease for the whole cluster: a few writes a
// second whatever the number of nodes.
package presence

import "time"

// LeaseName is the Lease, in the speakers' namespace, that the status
// writer renews.
const LeaseName = "ironlb-speakers"

// RenewPeriod is how often the status writer renews the Lease.
const RenewPeriod = 400 * time.Millisecond

// Timeout is how long the Lease may go without a renewal the controller
// sees before it holds every speaker gone: three renewals missed, and the
// statuses are corrected within 2 s of the last speaker's death.
const Timeout = 1200 * time.Millisecond

// Watch tells from successive readings of the Lease whether a speaker is
// running. Times are the observer's own clock (when it saw a renewal), so
// clock skew between nodes does not matter.
type Watch struct {
	last     string // the renewal last seen (holder and renew time)
	lastSeen time.Time
}

// NewWatch starts watching at now: until Timeout has passed the speakers
// get the benefit of the doubt.
func NewWatch(now time.Time) *Watch { return &Watch{lastSeen: now} }

// Observe records a reading (renewal "" when the Lease does not exist) and
// reports whether a speaker is running.
func (w *Watch) Observe(renewal string, now time.Time) bool {
	if renewal != "" && renewal != w.last {
		w.last, w.lastSeen = renewal, now
	}
	return now.Sub(w.lastSeen) < Timeout
}
