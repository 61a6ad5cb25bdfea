// Package sliceindex finds a Service's EndpointSlices in the manager's
// cache: one index on the EndpointSlice informer, registered once, shared
// by every reconciler that works per Service (the datapath, the health
// check ports).
//
// It is a client-go index with one value per slice ("namespace/service"),
// not a controller-runtime field index: that one files every slice under
// two values (its namespace's and all namespaces'), a set each, which at
// 10,000 Services was about 7 MB of the speaker's heap.
package sliceindex

import (
	"context"
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/speaker/storeindex"
)

// name is the index's name on the informer.
const name = "ironlb.io/endpointslice-service"

// Index finds a Service's EndpointSlices.
type Index struct {
	store toolscache.Indexer
}

// Register adds the index to c's EndpointSlice informer; call it once,
// before the manager starts, and only when some reconciler uses it.
func Register(ctx context.Context, c cache.Informers) (*Index, error) {
	store, err := storeindex.Add(ctx, c, &discoveryv1.EndpointSlice{}, name, func(sl *discoveryv1.EndpointSlice) []string {
		if svc, ok := ServiceOf(sl); ok {
			return []string{svc.String()}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index EndpointSlices by Service: %w", err)
	}
	return &Index{store: store}, nil
}

// ServiceOf is the Service an EndpointSlice belongs to: the one named in
// its kubernetes.io/service-name label, as kube-proxy reads it.
func ServiceOf(o client.Object) (types.NamespacedName, bool) {
	name := o.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: name}, true
}

// ToService maps an EndpointSlice event to its Service's reconcile key.
var ToService = handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
	if svc, ok := ServiceOf(o); ok {
		return []reconcile.Request{{NamespacedName: svc}}
	}
	return nil
})

// List returns svc's EndpointSlices: copies, as the cache's own List
// returns them, so a caller may keep or change them.
func (x *Index) List(svc types.NamespacedName) ([]*discoveryv1.EndpointSlice, error) {
	out, err := storeindex.ByIndex[*discoveryv1.EndpointSlice](x.store, name, svc.String())
	if err != nil {
		return nil, fmt.Errorf("list EndpointSlices of Service %s: %w", svc, err)
	}
	for i, sl := range out {
		out[i] = sl.DeepCopy()
	}
	return out, nil
}
