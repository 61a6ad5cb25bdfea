package view

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// +kubebuilder:rbac:groups="",resources=services;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch

// Register feeds the view from the informers of c (the manager's cache,
// shared with every other watch of the same kinds).
func (v *View) Register(ctx context.Context, c cache.Cache) error {
	kinds := []struct {
		obj client.Object
		set func(any)
		del func(types.NamespacedName)
	}{
		{&corev1.Service{}, func(o any) {
			if s, ok := o.(*corev1.Service); ok {
				v.SetService(s)
			}
		}, v.DeleteService},
		{&discoveryv1.EndpointSlice{}, func(o any) {
			if s, ok := o.(*discoveryv1.EndpointSlice); ok {
				v.SetSlice(s)
			}
		}, v.DeleteSlice},
		{&corev1.Node{}, func(o any) {
			if n, ok := o.(*corev1.Node); ok {
				v.SetNode(n)
			}
		}, func(k types.NamespacedName) { v.DeleteNode(k.Name) }},
	}
	for _, k := range kinds {
		inf, err := c.GetInformer(ctx, k.obj)
		if err != nil {
			return fmt.Errorf("informer for %T: %w", k.obj, err)
		}
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    k.set,
			UpdateFunc: func(_, o any) { k.set(o) },
			DeleteFunc: func(o any) {
				if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				if m, ok := o.(client.Object); ok {
					k.del(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
				}
			},
		})
		if err != nil {
			return fmt.Errorf("watch %T: %w", k.obj, err)
		}
		v.mu.Lock()
		v.synced = append(v.synced, reg.HasSynced)
		v.mu.Unlock()
	}
	return nil
}
