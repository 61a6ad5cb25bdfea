package pools

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/controller/allocation"
	"github.com/ironlb/ironlb/controller/metrics"
	"github.com/ironlb/ironlb/pkg/configsource"
	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// ReasonInvalidConfig is the event reason on an object that failed to
// compile.
const ReasonInvalidConfig = "InvalidConfiguration"

// configKey is the one key of the configuration controller: every change
// to any IronLB object recompiles the whole (small) configuration.
var configKey = reconcile.Request{NamespacedName: client.ObjectKey{Name: "ironlb-config"}}

// ConfigReconciler compiles the configuration and installs it.
type ConfigReconciler struct {
	Client   client.Client
	Recorder record.EventRecorder
	State    *allocation.State
	Metrics  *metrics.Metrics
	// Restore rebuilds the allocation from the Services' status with the
	// first valid configuration and returns the Services to requeue.
	Restore func(context.Context, *config.Config) ([]ipam.ServiceKey, error)
	// Services enqueues Services into the allocation controller.
	Services *trigger.Trigger
	// PoolStatus enqueues pools into the pool status controller.
	PoolStatus *trigger.Trigger
	Validity   *Validity

	reported map[string]string // "Kind/name" -> last error text sent as an event
}

// SetupWithManager registers the controller; it also runs once at start,
// so a cluster without any IronLB object still becomes ready.
func (r *ConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{configKey}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("config").
		WatchesRawSource(source.Func(func(_ context.Context, q reconcileQueue) error {
			q.Add(configKey)
			return nil
		}))
	for _, o := range configsource.Objects() {
		b = b.Watches(o, toKey)
	}
	return b.Complete(r)
}

// Reconcile compiles every IronLB object and applies the result.
func (r *ConfigReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	res, err := configsource.List(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	cfg, err := config.Compile(res)
	var errs config.Errors
	if errors.As(err, &errs) {
		r.Metrics.ConfigValid.Set(0)
		r.reportInvalid(ctx, res, errs)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("compile configuration: %w", err)
	}
	r.Metrics.ConfigValid.Set(1)
	r.reportInvalid(ctx, res, nil)

	var affected []ipam.ServiceKey
	if !r.State.Ready() {
		if affected, err = r.Restore(ctx, cfg); err != nil {
			return ctrl.Result{}, fmt.Errorf("restore allocations: %w", err)
		}
		log.FromContext(ctx).Info("allocations restored from Service status", "pools", len(cfg.PoolNames()), "requeued", len(affected))
	} else {
		affected = r.State.SetConfig(cfg)
	}
	r.Services.Add(allocation.Requests(affected)...)
	return ctrl.Result{}, nil
}

// reportInvalid records which pools are invalid (for their status) and sends
// one event per object and distinct problem.
func (r *ConfigReconciler) reportInvalid(ctx context.Context, res config.Resources, errs config.Errors) {
	byObject := map[string]config.Errors{}
	for _, e := range errs {
		k := e.Kind + "/" + e.Name
		byObject[k] = append(byObject[k], e)
	}
	if r.reported == nil {
		r.reported = map[string]string{}
	}
	for k := range r.reported {
		if _, still := byObject[k]; !still {
			delete(r.reported, k)
		}
	}
	for k, es := range byObject {
		text := es.Error()
		if r.reported[k] == text {
			continue
		}
		r.reported[k] = text
		if obj := lookup(res, es[0].Kind, es[0].Name); obj != nil {
			r.Recorder.Event(obj, corev1.EventTypeWarning, ReasonInvalidConfig,
				"rejected, the previous configuration stays in force: "+text)
		}
		log.FromContext(ctx).Info("invalid configuration", "object", k, "errors", text)
	}
	changed := r.Validity.Set(errs)
	r.PoolStatus.Add(poolRequests(changed)...)
}

// lookup finds the object an error names, for its event.
func lookup(res config.Resources, kind, name string) runtime.Object {
	find := func(n int, get func(int) client.Object) runtime.Object {
		for i := 0; i < n; i++ {
			if o := get(i); o.GetName() == name {
				return o
			}
		}
		return nil
	}
	switch kind {
	case config.KindIPAddressPool:
		return find(len(res.Pools), func(i int) client.Object { return &res.Pools[i] })
	case config.KindL2Advertisement:
		return find(len(res.L2Advertisements), func(i int) client.Object { return &res.L2Advertisements[i] })
	case config.KindBGPAdvertisement:
		return find(len(res.BGPAdvertisements), func(i int) client.Object { return &res.BGPAdvertisements[i] })
	case config.KindBGPPeer:
		return find(len(res.BGPPeers), func(i int) client.Object { return &res.BGPPeers[i] })
	case config.KindBFDProfile:
		return find(len(res.BFDProfiles), func(i int) client.Object { return &res.BFDProfiles[i] })
	case config.KindCommunity:
		return find(len(res.Communities), func(i int) client.Object { return &res.Communities[i] })
	}
	return nil
}

// Validity is which pools failed to compile and why, shared between the
// configuration and pool status controllers.
type Validity struct {
	mu     sync.Mutex
	byPool map[string]string
}

// Set replaces the recorded errors and returns the pools whose entry changed.
func (v *Validity) Set(errs config.Errors) []string {
	next := map[string]string{}
	for _, e := range errs {
		if e.Kind == config.KindIPAddressPool {
			if prev := next[e.Name]; prev != "" {
				next[e.Name] = prev + "; " + e.Error()
			} else {
				next[e.Name] = e.Error()
			}
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var changed []string
	for p, msg := range next {
		if v.byPool[p] != msg {
			changed = append(changed, p)
		}
	}
	for p := range v.byPool {
		if _, ok := next[p]; !ok {
			changed = append(changed, p)
		}
	}
	v.byPool = next
	return changed
}

// Problem returns why a pool is invalid ("" when it is valid).
func (v *Validity) Problem(pool string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.byPool[pool]
}

func poolRequests(pools []string) []reconcile.Request {
	reqs := make([]reconcile.Request, len(pools))
	for i, p := range pools {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKey{Name: p}}
	}
	return reqs
}

type reconcileQueue = workqueue.TypedRateLimitingInterface[reconcile.Request]
