package install

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/frr"
)

// watchNextHops polls the router's route to prefix every 50 ms until the
// test ends. It returns a function giving the fewest next hops seen so far
// and every change of the next hops, with the time since the watch began.
func watchNextHops(tb testing.TB, router *frr.Router, prefix netip.Prefix) func() (fewest int, changes []string) {
	ctx, cancel := context.WithCancel(context.Background())
	began := time.Now()
	var mu sync.Mutex
	fewest := -1
	var changes []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := ""
		for ctx.Err() == nil {
			if r, ok, err := router.Route(ctx, prefix); err == nil {
				hops := r.NextHops()
				if !ok {
					hops = nil
				}
				mu.Lock()
				if fewest < 0 || len(hops) < fewest {
					fewest = len(hops)
				}
				if s := fmt.Sprint(hops); s != last {
					changes = append(changes, fmt.Sprintf("+%v %s", time.Since(began).Round(time.Millisecond), s))
					last = s
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return func() (int, []string) {
		mu.Lock()
		defer mu.Unlock()
		return fewest, append([]string(nil), changes...)
	}
}
