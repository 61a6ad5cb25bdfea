package main

import (
	"sync"
	"time"
)

// peersGate says when this speaker may act on its view of the live
// speakers for layer 2. Before it has heard from its peers it would think
// itself alone and claim every address: that is the case for a while after
// it starts, and again after its own link was down, when it held every
// peer dead and elected itself for everything. Coming back with those
// claims it would answer for every address at once, beside the nodes that
// took them over, until the views agreed again (about a third of a second
// under load). So it holds back for hold after the start and after its
// link was last seen down.
type peersGate struct {
	hold   time.Duration
	linkUp func() bool
	now    func() time.Time

	mu    sync.Mutex
	since time.Time // the start, or when the link was last seen down
}

func newPeersGate(hold time.Duration, linkUp func() bool) *peersGate {
	g := &peersGate{hold: hold, linkUp: linkUp, now: time.Now}
	g.since = g.now()
	return g
}

// Ready reports whether the speaker may act. It is polled while it says
// no (every reconcile until then), so a link seen down restarts the hold.
func (g *peersGate) Ready() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ok bool
	ok, g.since = gateReady(g.linkUp(), g.since, g.now(), g.hold)
	return ok
}

// gateReady is the gate's rule: not while the link is down (the hold
// restarts from now), and only once hold has passed since.
func gateReady(linkUp bool, since, now time.Time, hold time.Duration) (bool, time.Time) {
	if !linkUp {
		return false, now
	}
	return now.Sub(since) > hold, since
}
