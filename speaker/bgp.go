package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/bgpsync"
	"github.com/ironlb/ironlb/speaker/view"
)

// setupBGP runs the embedded BGP speaker and its reconciler. The router ID
// is the node's IPv4 InternalIP (the liveness address when it is IPv4).
func setupBGP(mgr ctrl.Manager, o options, bind netip.AddrPort, cfg *atomic.Pointer[config.Config], v *view.View,
	decided prometheus.Counter, t *trigger.Trigger, slogger *slog.Logger, log logr.Logger) (*bgpsync.Syncer, error) {
	routerID, err := routerID(mgr.GetAPIReader(), o.node, bind)
	if err != nil {
		return nil, err
	}
	sp, err := bgp.New(bgp.Options{RouterID: routerID, Logger: slogger.With("component", "bgp"), Registerer: ctrlmetrics.Registry})
	if err != nil {
		return nil, fmt.Errorf("bgp: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(sp.Run)); err != nil {
		return nil, err
	}
	// A BGP engine stuck in a call fails the liveness probe, so the
	// kubelet restarts the speaker (gracefully for the routers) instead of
	// leaving its routes frozen.
	if err := mgr.AddHealthzCheck("bgp", func(*http.Request) error { return sp.Stalled(time.Now()) }); err != nil {
		return nil, err
	}
	s := &bgpsync.Syncer{
		Client: mgr.GetClient(), Namespace: o.namespace,
		Log: log.WithName("bgp"), Node: o.node, Config: cfg.Load, Speaker: sp, View: v,
		Decided: decided,
	}
	if err := s.SetupWithManager(mgr, t); err != nil {
		return nil, fmt.Errorf("set up bgp: %w", err)
	}
	// Ready once this node's routes are at its routers: a rollout then
	// never has two nodes' routes missing at once.
	if err := mgr.AddReadyzCheck("bgp", func(*http.Request) error { return s.Ready(time.Now()) }); err != nil {
		return nil, err
	}
	return s, mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { return s.ReportStatus(ctx, 2*time.Second) }))
}

func routerID(r client.Reader, node string, bind netip.AddrPort) (netip.Addr, error) {
	if bind.Addr().Is4() {
		return bind.Addr(), nil
	}
	var n corev1.Node
	if err := r.Get(context.Background(), client.ObjectKey{Name: node}, &n); err != nil {
		return netip.Addr{}, fmt.Errorf("read Node %s for a BGP router ID: %w", node, err)
	}
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() && a.Type == corev1.NodeInternalIP {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("node %s has no IPv4 InternalIP for a BGP router ID", node)
}
