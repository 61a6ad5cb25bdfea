package pools

import (
	"context"
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/controller/allocation"
	"github.com/ironlb/ironlb/controller/metrics"
	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools/status,verbs=get;update;patch

// StatusReconciler writes the address counts per family of IPAddressPool
// status (the configuration controller writes the rest).
type StatusReconciler struct {
	Client  client.Client
	State   *allocation.State
	Metrics *metrics.Metrics
	// Trigger is this controller's own queue, fed by the configuration
	// controller and by FlushDirty.
	Trigger *trigger.Trigger
}

// SetupWithManager registers the controller.
func (r *StatusReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("pool-status").
		For(&v1beta1.IPAddressPool{}).
		WatchesRawSource(r.Trigger.Source()).
		Complete(r)
}

// Reconcile brings one pool's status up to date.
func (r *StatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var pool v1beta1.IPAddressPool
	if err := r.Client.Get(ctx, req.NamespacedName, &pool); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetMetrics(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get IPAddressPool %s: %w", req.Name, err)
	}
	stats, inForce := r.State.Stats(pool.Name)
	r.setMetrics(pool.Name, stats)
	before := pool.DeepCopy()
	pool.Status.IPv4, pool.Status.IPv6 = desiredCounts(stats, inForce)
	if equality.Semantic.DeepEqual(before.Status, pool.Status) {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, &pool, client.MergeFrom(before)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("update IPAddressPool %s status: %w", pool.Name, err)
	}
	return ctrl.Result{}, nil
}

// FlushDirty enqueues, once a second, the pools whose counts changed, so a
// burst of allocations costs one status write per pool, not one per
// Service. It stops when ctx ends.
func (r *StatusReconciler) FlushDirty(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.Trigger.Add(poolRequests(r.State.TakeDirtyPools())...)
		}
	}
}

// desiredCounts are a pool's address counts per family; a pool that is not
// in force has none.
func desiredCounts(stats map[ipam.Family]ipam.Stats, inForce bool) (v4, v6 *v1beta1.PoolFamilyStatus) {
	if !inForce {
		return nil, nil
	}
	return familyStatus(stats, ipam.IPv4), familyStatus(stats, ipam.IPv6)
}

func familyStatus(stats map[ipam.Family]ipam.Stats, f ipam.Family) *v1beta1.PoolFamilyStatus {
	s, ok := stats[f]
	if !ok || s.Total == 0 {
		return nil
	}
	return &v1beta1.PoolFamilyStatus{Total: clamp(s.Total), Assigned: clamp(s.Assigned), Available: clamp(s.Available)}
}

func clamp(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

func (r *StatusReconciler) setMetrics(pool string, stats map[ipam.Family]ipam.Stats) {
	for f, s := range stats {
		r.Metrics.PoolAddresses.WithLabelValues(pool, f.String()).Set(float64(s.Total))
		r.Metrics.PoolAddressesInUse.WithLabelValues(pool, f.String()).Set(float64(s.Assigned))
	}
}

func (r *StatusReconciler) forgetMetrics(pool string) {
	r.Metrics.PoolAddresses.DeletePartialMatch(map[string]string{"pool": pool})
	r.Metrics.PoolAddressesInUse.DeletePartialMatch(map[string]string{"pool": pool})
}
