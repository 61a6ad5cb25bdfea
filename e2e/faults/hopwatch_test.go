package faults_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// hopWatch polls a router's kernel routes and notes, for each address,
// when its route first stopped naming one next hop (a lost node's). With
// ECMP, a connection that happens to hash to a live node says nothing of
// whether the router still sends others to the lost one: only its routes
// do.
type hopWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	gone   map[netip.Addr]time.Time // read after done
	err    error
}

// watchHopsGone starts polling router every 5 ms for the routes of the
// addresses in hops, each with the next hop to watch for; each route must
// have that next hop at the first read.
func watchHopsGone(router *vlan.Host, hops map[netip.Addr]netip.Addr) *hopWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &hopWatch{cancel: cancel, done: make(chan struct{}), gone: map[netip.Addr]time.Time{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for first := true; len(w.gone) < len(hops); first = false {
			routes, err := router.NextHops()
			// The time after the read: the route changed before it, so
			// no request is counted as sent after a change that came
			// later.
			read := time.Now()
			if err != nil {
				w.err = err
				return
			}
			for ip, hop := range hops {
				via := routes[netip.PrefixFrom(ip, ip.BitLen())]
				if slices.Contains(via, hop) {
					continue
				}
				if first {
					// Nothing to see go: the watch would pass at once.
					w.err = fmt.Errorf("%s: route via %v, not via %s, before the watch started", ip, via, hop)
					return
				}
				if _, seen := w.gone[ip]; !seen {
					w.gone[ip] = read
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// stop ends the polling and returns when each address's route lost its
// watched next hop (absent: it still had it).
func (w *hopWatch) stop() (map[netip.Addr]time.Time, error) {
	w.cancel()
	<-w.done
	return w.gone, w.err
}
