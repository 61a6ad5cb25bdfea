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

// A round opens its connections one every pace, not all at once; a Wake
// makes the rest of the round go unpaced.
func TestRoundIsPacedUnlessWoken(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	var dialed atomic.Int32
	p, err := New(Options{
		Targets: func() []Target { return nil },
		Service: func(types.NamespacedName) (*corev1.Service, bool) { return nil, false },
		Dial: func(context.Context, netip.AddrPort) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			dialed.Add(1)
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

	// 11 connections span at least 10 paces (a busy machine only makes
	// the span longer).
	p.probe(context.Background(), checks(11))
	if span := starts[len(starts)-1].Sub(starts[0]); span < 10*pace {
		t.Errorf("11 connections opened within %v, want at least %v (one every %v)", span, 10*pace, pace)
	}

	// 2,000 connections take 10 s paced; woken after the first 10 the
	// rest go at once.
	go func() {
		for dialed.Load() < 11+10 {
			time.Sleep(time.Millisecond)
		}
		p.Wake()
	}()
	t0 := time.Now()
	p.probe(context.Background(), checks(2000))
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("a woken round of 2,000 took %v, want well under the 10 s it takes paced", took)
	}
}
