// Package storeindex hands out the store of an informer of the manager's
// cache, with a client-go index added when asked: a reconciler that reads
// a few objects by a key of its own reads the cached objects themselves,
// without a typed list filled by reflection (the client's List) or a
// controller-runtime field index, which files every object under two
// values (its namespace's and all namespaces').
package storeindex

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Store returns the store of c's informer of obj's kind. Its objects are
// the cache's own: read them, never change them.
func Store(ctx context.Context, c cache.Informers, obj client.Object) (toolscache.Indexer, error) {
	inf, err := informer(ctx, c, obj)
	if err != nil {
		return nil, err
	}
	return inf.GetIndexer(), nil
}

// Add adds the index name, whose values for an object are keys(object), to
// c's informer of obj's kind, and returns its store. Call it once per
// name, before the manager starts.
func Add[T client.Object](ctx context.Context, c cache.Informers, obj T, name string, keys func(T) []string) (toolscache.Indexer, error) {
	inf, err := informer(ctx, c, obj)
	if err != nil {
		return nil, err
	}
	err = inf.AddIndexers(toolscache.Indexers{name: func(o any) ([]string, error) {
		if obj, ok := o.(T); ok {
			return keys(obj), nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("add index %s: %w", name, err)
	}
	return inf.GetIndexer(), nil
}

// ByIndex returns the objects of store filed under key in the index name:
// the cache's own, to read and never change.
func ByIndex[T client.Object](store toolscache.Indexer, name, key string) ([]T, error) {
	objs, err := store.ByIndex(name, key)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if obj, ok := o.(T); ok {
			out = append(out, obj)
		}
	}
	return out, nil
}

func informer(ctx context.Context, c cache.Informers, obj client.Object) (toolscache.SharedIndexInformer, error) {
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("informer of %T: %w", obj, err)
	}
	shared, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return nil, fmt.Errorf("informer of %T (%T) has no store", obj, inf)
	}
	return shared, nil
}
