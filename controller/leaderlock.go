package main

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// newLeaderLock builds the Lease lock controller-runtime would build, but
// holding o.leaderIdentity: controller-runtime always picks a fresh
// host-name-and-UUID identity, so a process restarted in its pod would wait
// out its dead predecessor's Lease (client-go takes over at once only a
// Lease whose holder is its own identity).
func newLeaderLock(cfg *rest.Config, o options) (*resourcelock.LeaseLock, error) {
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	// As controller-runtime does: one hung request must not use up the
	// whole renew deadline and cost the leadership.
	cfg.Timeout = max(o.renewDeadline/2, time.Second)
	c, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("leader election client: %w", err)
	}
	return &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.leaderElectionNS, Name: o.leaderElectionID},
		Client:     c,
		LockConfig: resourcelock.ResourceLockConfig{Identity: o.leaderIdentity},
	}, nil
}
