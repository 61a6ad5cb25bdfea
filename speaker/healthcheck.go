package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/speaker/healthcheck"
)

// setupHealthChecks serves the healthCheckNodePorts of Local Services on
// this node, as kube-proxy would; for clusters that run without it.
func setupHealthChecks(mgr ctrl.Manager, node string, slogger *slog.Logger, log logr.Logger) error {
	rec := mgr.GetEventRecorderFor("ironlb-speaker")
	srv, err := healthcheck.New(healthcheck.Options{
		Logger: slogger.With("component", "healthcheck"), Registerer: ctrlmetrics.Registry,
		BindFailed: func(port uint16, svc types.NamespacedName, err error) {
			ref := &corev1.Service{}
			ref.Namespace, ref.Name = svc.Namespace, svc.Name
			ref.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
			rec.Eventf(ref, corev1.EventTypeWarning, "FailedToStartServiceHealthcheck",
				"node %s cannot serve healthCheckNodePort %d: %v", node, port, err)
		},
	})
	if err != nil {
		return fmt.Errorf("health checks: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(srv.Run)); err != nil {
		return err
	}
	r := reconcile.Func(func(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
		var svcs corev1.ServiceList
		var eps discoveryv1.EndpointSliceList
		if err := mgr.GetClient().List(ctx, &svcs); err != nil {
			return reconcile.Result{}, err
		}
		if err := mgr.GetClient().List(ctx, &eps); err != nil {
			return reconcile.Result{}, err
		}
		want, problems := healthcheck.Desired(ptrsOf(svcs.Items), ptrsOf(eps.Items), node)
		for _, p := range problems {
			log.Info("health check problem", "problem", p.String())
		}
		srv.Set(want)
		return reconcile.Result{}, nil
	})
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{singleKey}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("healthcheck").
		Watches(&corev1.Service{}, toKey).
		Watches(&discoveryv1.EndpointSlice{}, toKey).
		Complete(r)
}

func ptrsOf[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
