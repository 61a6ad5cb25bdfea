// Package trigger lets one component enqueue work into a controller-runtime
// controller's queue, so a change seen in one place (a pool shrinks) requeues
// exactly the objects it affects in another controller (the Services that
// lost their address) without a channel that could block either side.
package trigger

import (
	"context"
	"sync"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Trigger enqueues requests into the controller whose source it is. Requests
// added before the controller starts are held and enqueued at start.
type Trigger struct {
	mu    sync.Mutex
	queue workqueue.TypedRateLimitingInterface[reconcile.Request]
	early []reconcile.Request
}

// Source is what the controller watches (builder.WatchesRawSource).
func (t *Trigger) Source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.queue = q
		for _, r := range t.early {
			q.Add(r)
		}
		t.early = nil
		return nil
	})
}

// Add enqueues requests; the queue drops duplicates of pending ones.
func (t *Trigger) Add(reqs ...reconcile.Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.queue == nil {
		t.early = append(t.early, reqs...)
		return
	}
	for _, r := range reqs {
		t.queue.Add(r)
	}
}
