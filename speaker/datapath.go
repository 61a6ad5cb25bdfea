package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/ironlb/ironlb/datapath/ipvs"
	"github.com/ironlb/ironlb/datapath/nftables"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/dpsync"
	"github.com/ironlb/ironlb/speaker/members"
	"github.com/ironlb/ironlb/speaker/sliceindex"
)

// setupDatapath chooses the backend (-datapath) and registers its
// reconciler. auto prefers IPVS and falls back to nftables where the kernel
// has no IPVS, as kube-proxy does.
func setupDatapath(ctx context.Context, mgr ctrl.Manager, o options, mem *members.Members, wake *trigger.Trigger, slices *sliceindex.Index, slogger *slog.Logger, log logr.Logger) error {
	mode := o.datapath
	if mode == "off" {
		return nil
	}
	if mode == "auto" {
		mode = "ipvs"
		if err := ipvs.Available(); err != nil {
			log.Info("IPVS unavailable, using nftables", "reason", err.Error())
			mode = "nftables"
		}
	}
	var backend dpsync.Backend
	switch mode {
	case "ipvs":
		b, err := ipvs.New(ipvs.Options{Logger: slogger.With("component", "ipvs")})
		if err != nil {
			return fmt.Errorf("datapath ipvs: %w", err)
		}
		// Draining endpoints, drift checks and the periodic resync.
		if err := mgr.Add(manager.RunnableFunc(b.Run)); err != nil {
			return err
		}
		backend = b
	case "nftables":
		b, err := nftables.New(nftables.Options{Logger: slogger.With("component", "nftables")})
		if err != nil {
			return fmt.Errorf("datapath nftables: %w", err)
		}
		// Drift repair (tables flushed or deleted by something else on
		// the node); closes the backend when the speaker stops.
		if err := mgr.Add(manager.RunnableFunc(b.Run)); err != nil {
			return err
		}
		backend = b
	}
	log.Info("datapath", "backend", mode)
	s := &dpsync.Syncer{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("ironlb-speaker"),
		Log: log.WithName("datapath"), Node: o.node, Backend: backend,
		DeadNodes: func() map[string]bool { return deadNodes(mem.PeerInfo()) }, Wake: wake, Slices: slices,
	}
	if err := s.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up datapath: %w", err)
	}
	return nil
}

// deadNodes are the nodes whose speaker the liveness protocol declared
// dead: seen alive, then silent (its link or its speaker gone). Nodes that
// left (a speaker stopping cleanly) or were never heard of (no speaker
// there) are not: their pods are presumed reachable.
func deadNodes(peers []members.Peer) map[string]bool {
	out := map[string]bool{}
	for n := range deadSince(peers) {
		out[n] = true
	}
	return out
}

// deadSince is deadNodes with when each was declared dead, for the
// presence Lease (presence.DeadNodesAnnotation).
func deadSince(peers []members.Peer) map[string]time.Time {
	out := map[string]time.Time{}
	for _, p := range peers {
		if p.State == "dead" {
			out[p.Name] = p.Since
		}
	}
	return out
}
