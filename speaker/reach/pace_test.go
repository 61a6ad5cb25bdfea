package reach

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A round starts its connections at MaxConnectionsPerSecond at most, not
// in a burst: n checks take at least (n-1) gaps from the first connection
// to the last (a lower bound, which a loaded machine only lengthens).
func TestProbePacesConnections(t *testing.T) {
	var (
		mu     sync.Mutex
		starts []time.Time
	)
	p, err := New(Options{
		Targets: func() []Target { return nil },
		Service: func(types.NamespacedName) (*corev1.Service, bool) { return nil, false },
		Dial: func(context.Context, netip.AddrPort) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return nil
		},
		Concurrency: 64, // not what limits the rate here
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 21
	var checks []netip.AddrPort
	for i := range n {
		checks = append(checks, netip.MustParseAddrPort(fmt.Sprintf("192.0.2.1:%d", 1000+i)))
	}
	for i, err := range p.probe(context.Background(), checks) {
		if err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if len(starts) != n {
		t.Fatalf("%d connections, want %d", len(starts), n)
	}
	slices.SortFunc(starts, time.Time.Compare)
	gap := time.Second / MaxConnectionsPerSecond
	if spread := starts[n-1].Sub(starts[0]); spread < (n-1)*gap {
		t.Errorf("%d connections started within %v: faster than %d per second", n, spread, MaxConnectionsPerSecond)
	}
}

// A round cancelled midway stops starting connections, and reports the
// checks it did not make as failed with the context's error.
func TestProbeStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dialed := 0
	p, err := New(Options{
		Targets: func() []Target { return nil },
		Service: func(types.NamespacedName) (*corev1.Service, bool) { return nil, false },
		Dial: func(context.Context, netip.AddrPort) error {
			dialed++ // Concurrency 1: one at a time, read after probe returns
			if dialed == 3 {
				cancel()
			}
			return nil
		},
		Concurrency: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := make([]netip.AddrPort, 50)
	for i := range checks {
		checks[i] = netip.MustParseAddrPort(fmt.Sprintf("192.0.2.1:%d", 1000+i))
	}
	out := p.probe(ctx, checks)
	if dialed != 3 {
		t.Errorf("%d connections, want 3: the round was cancelled during the third", dialed)
	}
	if out[len(out)-1] != context.Canceled {
		t.Errorf("the last check's error is %v, want %v", out[len(out)-1], context.Canceled)
	}
}
