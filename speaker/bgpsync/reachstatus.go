package bgpsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2sync"
	"github.com/ironlb/ironlb/speaker/reach"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=servicebgpstatuses,verbs=get;list;watch;create;update;patch;delete

// ReachResync is how often the writer compares its entries with the check
// even without a change of verdict: it repairs an entry someone removed
// and a write that failed.
const ReachResync = 10 * time.Second

// ReachWriter writes this node's entries in the ServiceBGPStatus objects:
// one per Service IP it advertises that does not answer. Run owns its
// loop.
type ReachWriter struct {
	// Client reads ServiceBGPStatus and Services from the manager's cache
	// and writes to the API server.
	Client  client.Client
	Node    string
	Log     logr.Logger
	Targets func() []reach.Target // the addresses this node advertises (Syncer.Announced)
	Verdict func(types.NamespacedName, netip.Addr) (reach.Verdict, bool)
	// Alive lists the live speakers, nil until this one has heard its
	// peers; the first of them by name drops the entries of dead nodes.
	Alive func() []string

	wake chan struct{}
}

// NewReachWriter returns a writer; call Wake when a verdict changed.
func NewReachWriter(w ReachWriter) *ReachWriter {
	w.wake = make(chan struct{}, 1)
	return &w
}

// Wake has the entries compared with the check now.
func (w *ReachWriter) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run writes on every Wake and every ReachResync until ctx ends.
func (w *ReachWriter) Run(ctx context.Context) error {
	t := time.NewTicker(ReachResync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-t.C:
		}
		if err := w.sync(ctx); err != nil && ctx.Err() == nil {
			w.Log.Info("ServiceBGPStatus write failed; retried", "error", err.Error())
			time.AfterFunc(200*time.Millisecond, w.Wake)
		}
	}
}

func (w *ReachWriter) sync(ctx context.Context) error {
	// Only Service IPs that do not answer somewhere have an object: the
	// list is as long as the trouble, not the cluster.
	var have v1beta1.ServiceBGPStatusList
	if err := w.Client.List(ctx, &have, client.UnsafeDisableDeepCopy); err != nil { // read only
		return fmt.Errorf("list ServiceBGPStatus: %w", err)
	}
	existing := make([]*v1beta1.ServiceBGPStatus, len(have.Items))
	for i := range have.Items {
		existing[i] = &have.Items[i]
	}
	var errs []error
	if alive := w.Alive(); len(alive) > 0 && l2sync.StatusWriter(alive) == w.Node {
		for _, o := range existing {
			errs = append(errs, w.dropDead(ctx, o, alive))
		}
	}
	for _, wr := range ReachWrites(w.Node, w.Targets(), w.Verdict, existing, time.Now()) {
		if err := w.apply(ctx, wr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FieldManager is the field manager of a node's entries: each node owns
// its own, so the nodes' writes never conflict.
func FieldManager(node string) string { return "ironlb-speaker/" + node }

// apply writes one entry with server-side apply (an apply without the
// entry removes the one this node owns) and deletes the object when no
// node's entry is left. The delete is conditional on the version just
// written, so an entry another node adds in between keeps the object.
func (w *ReachWriter) apply(ctx context.Context, wr ReachWrite) error {
	var svc corev1.Service
	if err := w.Client.Get(ctx, wr.Service, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted: garbage collection removes its statuses
		}
		return fmt.Errorf("get service %s: %w", wr.Service, err)
	}
	body, err := json.Marshal(applyBody(&svc, wr))
	if err != nil {
		return err
	}
	obj := &v1beta1.ServiceBGPStatus{ObjectMeta: metav1.ObjectMeta{Namespace: wr.Service.Namespace, Name: wr.Name}}
	if err := w.Client.Patch(ctx, obj, client.RawPatch(types.ApplyYAMLPatchType, body),
		client.FieldOwner(FieldManager(w.Node)), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply ServiceBGPStatus %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	if len(obj.Status.NotAnswering) > 0 {
		return nil
	}
	rv, uid := obj.ResourceVersion, obj.UID
	err = w.Client.Delete(ctx, obj, client.Preconditions{ResourceVersion: &rv, UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete ServiceBGPStatus %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	return nil
}

// dropDead removes the entries of dead nodes from o (read from the cache,
// so a stale copy fails on its resourceVersion and is retried).
func (w *ReachWriter) dropDead(ctx context.Context, o *v1beta1.ServiceBGPStatus, alive []string) error {
	kept, changed := Live(o, alive)
	if !changed {
		return nil
	}
	var err error
	if len(kept) == 0 {
		rv := o.ResourceVersion
		err = w.Client.Delete(ctx, o, client.Preconditions{ResourceVersion: &rv})
	} else {
		upd := o.DeepCopy()
		upd.Status.NotAnswering = kept
		err = w.Client.Update(ctx, upd)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("drop dead nodes' entries from ServiceBGPStatus %s/%s: %w", o.Namespace, o.Name, err)
	}
	return nil
}

// applyBody is this node's apply configuration: the object's identity
// (which every node applies alike, so creating it is whoever comes
// first) and its own entry, or none.
func applyBody(svc *corev1.Service, wr ReachWrite) map[string]any {
	status := map[string]any{"serviceName": svc.Name, "ip": wr.IP.String()}
	if wr.Entry != nil {
		status["notAnswering"] = []v1beta1.NodeNotAnswering{*wr.Entry}
	}
	return map[string]any{
		"apiVersion": v1beta1.GroupVersion.String(),
		"kind":       "ServiceBGPStatus",
		"metadata": map[string]any{
			"name": wr.Name, "namespace": svc.Namespace,
			"labels": map[string]string{"ironlb.io/service-name": svc.Name},
			"ownerReferences": []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
			}},
		},
		"status": status,
	}
}
