package bgpsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/bgp"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=bgpsessionstatuses,verbs=get;list;watch;create;update;patch;delete

// LabelNode marks the BGPSessionStatus objects of one node.
const LabelNode = "ironlb.io/node"

// ReportStatus writes this node's BGPSessionStatus objects every period
// until ctx ends; only changes are written.
func (s *Syncer) ReportStatus(ctx context.Context, period time.Duration) error {
	t := time.NewTicker(period)
	defer t.Stop()
	since := map[string]*metav1.Time{} // peer -> when it became Established
	for {
		if err := s.writeStatus(ctx, since); err != nil && ctx.Err() == nil {
			s.Log.Info("BGP session status", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Syncer) writeStatus(ctx context.Context, since map[string]*metav1.Time) error {
	var have v1beta1.BGPSessionStatusList
	if err := s.Client.List(ctx, &have, client.MatchingLabels{LabelNode: s.Node}); err != nil {
		return err
	}
	existing := map[string]*v1beta1.BGPSessionStatus{}
	for i := range have.Items {
		existing[have.Items[i].Name] = &have.Items[i]
	}
	want := map[string]v1beta1.BGPSessionStatusStatus{}
	for _, p := range s.Speaker.Status() {
		want[p.Name] = statusOf(s.Node, p, since)
	}
	for peer, problem := range s.Problems() {
		want[peer] = v1beta1.BGPSessionStatusStatus{Node: s.Node, Peer: peer, State: string(bgp.StateIdle), LastError: problem}
	}
	var errs []error
	for _, peer := range slices.Sorted(maps.Keys(want)) {
		st := want[peer]
		name := s.Node + "." + peer
		cur := existing[name]
		delete(existing, name)
		switch {
		case cur == nil:
			obj := &v1beta1.BGPSessionStatus{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelNode: s.Node}}, Status: st}
			errs = append(errs, ignoreExists(s.Client.Create(ctx, obj)))
		case !equality.Semantic.DeepEqual(cur.Status, st):
			cur.Status = st
			errs = append(errs, s.Client.Update(ctx, cur))
		}
	}
	for _, stale := range existing {
		if err := s.Client.Delete(ctx, stale); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func statusOf(node string, p bgp.PeerStatus, since map[string]*metav1.Time) v1beta1.BGPSessionStatusStatus {
	st := v1beta1.BGPSessionStatusStatus{
		Node: node, Peer: p.Name, PeerAddress: p.Address.String(), State: string(p.State),
		PrefixesAdvertised: int32(p.PrefixesAdvertised), LastError: p.LastError, BFD: string(p.BFD),
	}
	if p.State == bgp.StateEstablished {
		if since[p.Name] == nil {
			t := metav1.NewTime(time.Now().Add(-p.Uptime).Truncate(time.Second))
			since[p.Name] = &t
		}
		st.EstablishedSince = since[p.Name]
	} else {
		delete(since, p.Name)
	}
	if !p.LastErrorTime.IsZero() {
		t := metav1.NewTime(p.LastErrorTime.Truncate(time.Second))
		st.LastErrorTime = &t
	}
	return st
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("status created concurrently; retried next period: %w", err)
	}
	return err
}
