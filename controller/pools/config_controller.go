package pools

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
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

// ConfigReconciler compiles the configuration, installs what is in force
// and reports on every object.
type ConfigReconciler struct {
	Client   client.Client
	Recorder record.EventRecorder
	State    *allocation.State
	Metrics  *metrics.Metrics
	// Restore rebuilds the allocation from the Services' status with the
	// first configuration and returns the Services to requeue.
	Restore func(context.Context, *config.Config) ([]ipam.ServiceKey, error)
	// Services enqueues Services into the allocation controller.
	Services *trigger.Trigger

	reported map[string]string // "Kind/name" -> last problem text sent as an event
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
		b = b.Watches(o, toKey, builder.WithPredicates(configsource.ConfigChanged))
	}
	return b.Complete(r)
}

// Reconcile compiles every IronLB object, installs the objects in force,
// then writes each object's status: the Valid condition and, for a valid
// spec, the spec as the last valid one. Invalid objects set aside only
// themselves; nothing here depends on an earlier run, so a restarted
// controller installs exactly what the one before it did.
func (r *ConfigReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	res, err := configsource.List(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	cfg, errs := config.Compile(res)
	if len(errs) == 0 {
		r.Metrics.ConfigValid.Set(1)
	} else {
		r.Metrics.ConfigValid.Set(0)
	}

	var affected []ipam.ServiceKey
	if !r.State.Ready() {
		if affected, err = r.Restore(ctx, cfg); err != nil {
			return ctrl.Result{}, fmt.Errorf("restore allocations: %w", err)
		}
		log.FromContext(ctx).Info("allocations restored from Service status", "pools", len(cfg.PoolNames()), "requeued", len(affected))
	} else if !cfg.Equal(r.State.Config()) {
		// Not on a status write of this reconciler's own, which compiles
		// to the configuration in force.
		affected = r.State.SetConfig(cfg)
	}
	r.Services.Add(allocation.Requests(affected)...)
	r.reportInvalid(ctx, res, cfg)
	if err := r.writeStatuses(ctx, &res, cfg); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// writeStatuses patches the status of every object whose report changed.
func (r *ConfigReconciler) writeStatuses(ctx context.Context, res *config.Resources, cfg *config.Config) error {
	var failed []error
	for _, t := range targets(res) {
		st, ok := cfg.State(t.kind, t.obj.GetName())
		if !ok {
			continue
		}
		before := t.obj.DeepCopyObject().(client.Object)
		want, record := desiredConfigStatus(t.obj.GetGeneration(), *t.status, st)
		*t.status = want
		if record {
			t.recordSpec()
		}
		if equality.Semantic.DeepEqual(before, t.obj) {
			continue
		}
		if err := r.Client.Status().Patch(ctx, t.obj, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, fmt.Errorf("write status of %s %s: %w", t.kind, t.obj.GetName(), err))
		}
	}
	return errors.Join(failed...)
}

// reportInvalid sends one event per invalid object and distinct problem,
// and logs it.
func (r *ConfigReconciler) reportInvalid(ctx context.Context, res config.Resources, cfg *config.Config) {
	invalid := cfg.Invalid()
	current := make(map[string]string, len(invalid))
	for _, st := range invalid {
		current[st.Kind+"/"+st.Name] = st.Errors.Error() + "; " + st.Summary()
	}
	if r.reported == nil {
		r.reported = map[string]string{}
	}
	for k := range r.reported {
		if _, still := current[k]; !still {
			delete(r.reported, k)
		}
	}
	if len(invalid) == 0 {
		return
	}
	objects := map[string]client.Object{}
	for _, t := range targets(&res) {
		objects[t.kind+"/"+t.obj.GetName()] = t.obj
	}
	for _, st := range invalid {
		k := st.Kind + "/" + st.Name
		text := current[k]
		if r.reported[k] == text {
			continue
		}
		r.reported[k] = text
		if obj := objects[k]; obj != nil {
			r.Recorder.Event(obj, corev1.EventTypeWarning, ReasonInvalidConfig, text)
		}
		log.FromContext(ctx).Info("invalid configuration object", "object", k, "inForce", st.InForce.String(), "errors", st.Errors.Error())
	}
}

func poolRequests(pools []string) []reconcile.Request {
	reqs := make([]reconcile.Request, len(pools))
	for i, p := range pools {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKey{Name: p}}
	}
	return reqs
}

type reconcileQueue = workqueue.TypedRateLimitingInterface[reconcile.Request]
