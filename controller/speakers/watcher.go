// Package speakers keeps the speakers' statuses true when no speaker is
// left to do it: once the speakers' presence Lease (pkg/presence) goes
// unrenewed, the controller says in every ServiceL2Status that no node
// answers for the address and in every BGPSessionStatus that the session is
// not established. The speakers overwrite both as soon as one runs again.
package speakers

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/presence"
)

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch,namespace=ironlb-system
// +kubebuilder:rbac:groups=ironlb.io,resources=servicel2statuses;bgpsessionstatuses,verbs=get;list;watch;update

// ReasonNoSpeaker is the ServiceL2Status reason (and the BGPSessionStatus
// error) while no speaker runs.
const ReasonNoSpeaker = "no IronLB speaker is running: nothing answers for this address"

// Watcher checks the presence Lease every Period.
type Watcher struct {
	Client    client.Client
	Namespace string
	Log       logr.Logger
	Period    time.Duration
}

// Start runs until ctx ends (a manager Runnable: on the leader only).
func (w *Watcher) Start(ctx context.Context) error {
	w.prime(ctx)
	watch := presence.NewWatch(time.Now())
	t := time.NewTicker(w.Period)
	defer t.Stop()
	wasAlive := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		renewal, err := w.renewal(ctx)
		if err != nil {
			w.Log.V(1).Info("read speakers' presence lease", "error", err.Error())
			continue
		}
		alive := watch.Observe(renewal, time.Now())
		if alive != wasAlive {
			w.Log.Info("speakers' presence changed", "anySpeakerRunning", alive)
			wasAlive = alive
		}
		if alive {
			continue
		}
		if err := w.markNoSpeaker(ctx); err != nil && ctx.Err() == nil {
			w.Log.Info("mark statuses: no speaker running", "error", err.Error())
		}
	}
}

// prime reads once the lists markNoSpeaker needs. They come from the
// manager's cache, whose informers start on first use: started here, they
// run from the start (while the API server is most likely up) instead of
// starting in the middle of the outage that needs them, which also showed
// as a step in the controller's goroutines and memory in the soak.
func (w *Watcher) prime(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, l := range []client.ObjectList{&v1beta1.ServiceL2StatusList{}, &v1beta1.BGPSessionStatusList{}} {
		if err := w.Client.List(ctx, l); err != nil {
			w.Log.V(1).Info("prime status cache", "kind", fmt.Sprintf("%T", l), "error", err.Error())
		}
	}
}

// renewal identifies the Lease's last renewal ("" when there is none).
func (w *Watcher) renewal(ctx context.Context) (string, error) {
	var l coordinationv1.Lease
	err := w.Client.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: presence.LeaseName}, &l)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if l.Spec.RenewTime == nil {
		return "", nil
	}
	return holder + "@" + l.Spec.RenewTime.UTC().Format(time.RFC3339Nano), nil
}

// markNoSpeaker rewrites, where they still claim otherwise, the statuses
// of announced addresses and established sessions.
func (w *Watcher) markNoSpeaker(ctx context.Context) error {
	var l2 v1beta1.ServiceL2StatusList
	if err := w.Client.List(ctx, &l2); err != nil {
		return err
	}
	var failed []error
	for i := range l2.Items {
		st := &l2.Items[i]
		if st.Status.Node == "" {
			continue
		}
		st.Status = noSpeakerL2(st.Status)
		if err := w.Client.Update(ctx, st); err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, err)
		}
	}
	var sessions v1beta1.BGPSessionStatusList
	if err := w.Client.List(ctx, &sessions); err != nil {
		return err
	}
	now := metav1.Now()
	for i := range sessions.Items {
		st := &sessions.Items[i]
		if st.Status.State != "Established" {
			continue
		}
		st.Status = noSpeakerSession(st.Status, now)
		if err := w.Client.Update(ctx, st); err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d status updates failed, first: %w", len(failed), failed[0])
	}
	return nil
}

func noSpeakerL2(st v1beta1.ServiceL2StatusStatus) v1beta1.ServiceL2StatusStatus {
	st.Node, st.Interfaces, st.Since, st.Conflict = "", nil, nil, nil
	st.Reason = ReasonNoSpeaker
	return st
}

func noSpeakerSession(st v1beta1.BGPSessionStatusStatus, now metav1.Time) v1beta1.BGPSessionStatusStatus {
	st.State, st.EstablishedSince, st.BFD = "Idle", nil, ""
	st.LastError, st.LastErrorTime = ReasonNoSpeaker, &now
	return st
}
