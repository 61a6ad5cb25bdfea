package main

import (
	"sync"
	"time"
)

// isolation tells when this node must answer nothing on layer 2 because it
// was cut off from its peers. While its link is down it holds every peer
// dead and would claim every address; once the link is back, those claims
// are stale until it hears the others again, and answering for addresses
// they now hold would put two MACs on one IP (clients flip between them
// mid-connection and get resets). So from the moment the link goes down
// until another member is alive again (or grace has passed since the link
// came back: the others really are gone), the node stays silent.
type isolation struct {
	linkUp     func() bool
	peersAlive func() bool // some other member is held alive
	grace      time.Duration

	mu sync.Mutex
	st isolationState
}

// isolationState is what isolation remembers between calls.
type isolationState struct {
	cutOff bool      // the link went down and no peer has been heard since
	upAt   time.Time // when the link came back (zero: still down)
}

// Silent reports whether the node must answer nothing now.
func (i *isolation) Silent() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	var silent bool
	i.st, silent = nextIsolation(i.st, i.linkUp(), i.peersAlive(), time.Now(), i.grace)
	return silent
}

// nextIsolation is the decision: the new state and whether to stay silent.
func nextIsolation(st isolationState, linkUp, peersAlive bool, now time.Time, grace time.Duration) (isolationState, bool) {
	switch {
	case !linkUp:
		return isolationState{cutOff: true}, true
	case !st.cutOff:
		return st, false
	case st.upAt.IsZero():
		st.upAt = now
	}
	// The link is back. A peer held alive means the view has caught up
	// (it was alive before it was dead: heard since the return).
	if peersAlive || now.Sub(st.upAt) >= grace {
		return isolationState{}, false
	}
	return st, true
}
