package reach

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A round opens its connections one every gap, not all at once, and
// at most Concurrency at a time; a Wake makes the rest of the round go at
// once.
func TestRoundIsPacedUnlessWoken(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	var dialed, inFlight, most atomic.Int32
	var slow atomic.Bool
	p, err := New(Options{
		Targets: func() []Target { return nil },
		Service: func(types.NamespacedName) (*corev1.Service, bool) { return nil, false },
		Dial: func(context.Context, netip.AddrPort) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			dialed.Add(1)
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			if slow.Load() {
				time.Sleep(20 * time.Millisecond)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := func(n int) []netip.AddrPort {
		out := make([]netip.AddrPort, n)
		for i := range out {
			out[i] = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1000+i))
		}
		return out
	}

	// 11 connections 10 ms apart span at least 100 ms (a busy machine
	// only makes the span longer).
	every := 10 * time.Millisecond
	t0 := time.Now()
	p.probe(context.Background(), checks(11), every)
	if span := starts[len(starts)-1].Sub(t0); span < 10*every {
		t.Errorf("11 connections opened within %v, want at least %v (one every %v)", span, 10*every, every)
	}

	// Unspaced, slow connections: never more than Concurrency at once.
	slow.Store(true)
	p.probe(context.Background(), checks(40), 0)
	slow.Store(false)
	if m := most.Load(); m != DefaultConcurrency {
		t.Errorf("at most %d connections in flight, want %d", m, DefaultConcurrency)
	}

	// 2,000 connections take 10 s spaced 5 ms apart; woken after the
	// first 10 the rest go at once.
	go func() {
		for dialed.Load() < 11+40+10 {
			time.Sleep(time.Millisecond)
		}
		p.Wake()
	}()
	t0 = time.Now()
	p.probe(context.Background(), checks(2000), 5*time.Millisecond)
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("a woken round of 2,000 took %v, want well under the 10 s it takes paced", took)
	}
}
