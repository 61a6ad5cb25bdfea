// Package sliceindex finds a Service's EndpointSlices in the manager's
// cache: one field index, registered once, shared by every reconciler that
// works per Service (the datapath, the health check ports).
package sliceindex

import (
	"context"
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// field indexes EndpointSlices by "namespace/service".
const field = "ironlb.io/endpointslice-service"

// Register adds the index; call it once, before the manager starts.
func Register(ctx context.Context, idx client.FieldIndexer) error {
	err := idx.IndexField(ctx, &discoveryv1.EndpointSlice{}, field, func(o client.Object) []string {
		if svc, ok := ServiceOf(o); ok {
			return []string{svc.String()}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index EndpointSlices by Service: %w", err)
	}
	return nil
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

// List returns svc's EndpointSlices from r, which must be a cache with the
// index registered.
func List(ctx context.Context, r client.Reader, svc types.NamespacedName) ([]*discoveryv1.EndpointSlice, error) {
	var eps discoveryv1.EndpointSliceList
	if err := r.List(ctx, &eps, client.InNamespace(svc.Namespace), client.MatchingFields{field: svc.String()}); err != nil {
		return nil, fmt.Errorf("list EndpointSlices of Service %s: %w", svc, err)
	}
	out := make([]*discoveryv1.EndpointSlice, len(eps.Items))
	for i := range eps.Items {
		out[i] = &eps.Items[i]
	}
	return out, nil
}
