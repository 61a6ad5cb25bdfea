package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/speaker/bgpsync"
	"github.com/ironlb/ironlb/speaker/l2sync"
	"github.com/ironlb/ironlb/speaker/reach"
	"github.com/ironlb/ironlb/speaker/storeindex"
)

// setupReach starts the reachability check of the addresses this node
// announces with layer 2 or advertises over BGP (-reachability-check; 0
// disables it: no prober is returned, and the writer only clears). Its verdicts go into the
// ServiceL2Status the layer 2 syncer writes and this node's entries of the
// ServiceBGPStatus objects.
func setupReach(mgr ctrl.Manager, o options, syncer *l2sync.Syncer, bgpSyncer *bgpsync.Syncer, slogger *slog.Logger, log logr.Logger) (*reach.Prober, *bgpsync.ReachWriter, error) {
	alive := func() []string {
		if !syncer.Ready() {
			return nil // alone until it hears its peers: everyone else would look dead
		}
		return syncer.Alive()
	}
	if o.reachCheck == 0 {
		w, err := setupReachOff(mgr, o.node, alive, log)
		return nil, w, err
	}
	services, err := storeindex.Store(context.Background(), mgr.GetCache(), &corev1.Service{})
	if err != nil {
		return nil, nil, fmt.Errorf("reachability check: %w", err)
	}
	routes := &routeLookup{}
	var bgpWriter *bgpsync.ReachWriter // set below, before the prober runs
	p, err := reach.New(reach.Options{
		Targets: func() []reach.Target { return reach.Merge(syncer.Announced(), bgpSyncer.Announced()) },
		// The cached object itself, read only: a round reads every
		// announced Service, and a copy of each (the client's Get) was
		// most of what the check allocated at 10,000 Services.
		Service: func(k types.NamespacedName) (*corev1.Service, bool) {
			o, ok, err := services.GetByKey(k.String())
			if err != nil || !ok {
				return nil, false
			}
			svc, ok := o.(*corev1.Service)
			return svc, ok
		},
		Changed: func() {
			syncer.StatusChanged()
			bgpWriter.Wake()
		},
		Recorder:   mgr.GetEventRecorderFor("ironlb-speaker"),
		Registerer: ctrlmetrics.Registry,
		Logger:     slogger.With("component", "reach"),
		Interval:   o.reachCheck,
		Dial:       routes.dial,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reachability check: %w", err)
	}
	syncer.Reach = p.Verdict
	bgpWriter = bgpsync.NewReachWriter(bgpsync.ReachWriter{
		Client: mgr.GetClient(), Node: o.node, Log: log.WithName("bgp-reach"),
		Targets: bgpSyncer.Announced, Verdict: p.Verdict, Alive: alive,
	})
	for _, r := range []func(context.Context) error{p.Run, bgpWriter.Run, routes.run} {
		if err := mgr.Add(manager.RunnableFunc(r)); err != nil {
			return nil, nil, err
		}
	}
	return p, bgpWriter, nil
}

// setupReachOff starts the BGP reach writer of a node whose check is off.
// Nothing is checked, so the node reports nothing: the writer only removes
// the entries it wrote while the check was on (a status must not keep
// saying an address fails where nobody looks any more) and, as the status
// writer, dead nodes' entries.
func setupReachOff(mgr ctrl.Manager, node string, alive func() []string, log logr.Logger) (*bgpsync.ReachWriter, error) {
	w := bgpsync.NewReachWriter(bgpsync.ReachWriter{
		Client: mgr.GetClient(), Node: node, Log: log.WithName("bgp-reach"),
		Targets: func() []reach.Target { return nil },
		Verdict: func(types.NamespacedName, netip.Addr) (reach.Verdict, bool) { return reach.Verdict{}, false },
		Alive:   alive,
	})
	return w, mgr.Add(manager.RunnableFunc(w.Run))
}
