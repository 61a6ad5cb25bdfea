package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/speaker/healthcheck"
	"github.com/ironlb/ironlb/speaker/sliceindex"
)

// setupHealthChecks serves the healthCheckNodePorts of Local Services on
// this node, as kube-proxy would; for clusters that run without it.
func setupHealthChecks(mgr ctrl.Manager, node string, slices *sliceindex.Index, slogger *slog.Logger, log logr.Logger) error {
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
	// One Service at a time: its port and count are recomputed from it
	// and its own EndpointSlices (sliceindex), and only the ports that
	// changed reach the server. The tracker is this reconciler's alone
	// (one worker).
	tracker := healthcheck.NewTracker(node)
	c := mgr.GetClient()
	r := reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		var svc *corev1.Service
		var own []*discoveryv1.EndpointSlice
		var got corev1.Service
		switch err := c.Get(ctx, req.NamespacedName, &got); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return reconcile.Result{}, err
		default:
			svc = &got
			if own, err = slices.List(req.NamespacedName); err != nil {
				return reconcile.Result{}, err
			}
		}
		ports, problems := tracker.Set(req.NamespacedName, svc, own)
		for _, p := range problems {
			log.Info("health check problem", "problem", p.String())
		}
		changes := make(map[uint16]*healthcheck.Entry, len(ports))
		for _, p := range ports {
			if e, ok := tracker.Entry(p); ok {
				changes[p] = &e
			} else {
				changes[p] = nil
			}
		}
		srv.Update(changes)
		return reconcile.Result{}, nil
	})
	return ctrl.NewControllerManagedBy(mgr).Named("healthcheck").
		For(&corev1.Service{}).
		Watches(&discoveryv1.EndpointSlice{}, sliceindex.ToService).
		Complete(r)
}
