package allocation

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/controller/metrics"
	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// Event reasons.
const (
	ReasonIPAllocated      = "IPAllocated"
	ReasonAllocationFailed = "AllocationFailed"
	ReasonIPReleased       = "IPReleased"
	ReasonDeprecated       = "DeprecatedAnnotation"
)

// DefaultLoadBalancerClass is the spec.loadBalancerClass IronLB handles.
const DefaultLoadBalancerClass = "ironlb.io/ironlb"

// Reconciler gives LoadBalancer Services their external addresses.
type Reconciler struct {
	Client   client.Client
	Recorder record.EventRecorder
	State    *State
	Metrics  *metrics.Metrics
	// Retry enqueues the Services waiting for an address when another
	// one frees its own.
	Retry *trigger.Trigger

	// LoadBalancerClass is the class handled; Services without a class are
	// handled too unless IgnoreClassless.
	LoadBalancerClass string
	IgnoreClassless   bool
	// IPMode is written to every ingress entry (VIP, or Proxy when the
	// IronLB datapath carries the traffic).
	IPMode corev1.LoadBalancerIPMode

	warnMu sync.Mutex
	warned map[ipam.ServiceKey]string // last deprecation warnings sent
}

// Handles reports whether IronLB is responsible for svc.
func (r *Reconciler) Handles(svc *corev1.Service) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass == nil {
		return !r.IgnoreClassless
	}
	return *svc.Spec.LoadBalancerClass == r.LoadBalancerClass
}

// Reconcile allocates, keeps or releases one Service's addresses.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	start := time.Now()
	if err := r.State.WaitReady(ctx); err != nil {
		return ctrl.Result{}, err
	}
	key := ipam.ServiceKey{Namespace: req.Namespace, Name: req.Name}

	var svc corev1.Service
	if err := r.Client.Get(ctx, req.NamespacedName, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			_, retry := r.State.Release(key)
			r.retry(retry)
			r.forgetWarnings(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get service %s: %w", key, err)
	}
	if !r.Handles(&svc) {
		return ctrl.Result{}, r.release(ctx, &svc, key)
	}

	var ns corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: svc.Namespace}, &ns); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("get namespace %s: %w", svc.Namespace, err)
	}
	request, warnings, err := svcrequest.FromService(&svc, ns.Labels)
	r.warn(&svc, key, warnings)
	if err != nil {
		// A Service that asks for something malformed keeps whatever it has.
		r.failed(&svc, err, r.State.RecordFailure(key, err))
		return ctrl.Result{}, nil
	}

	current := StatusIPs(&svc)
	d := r.State.Allocate(request, current)
	r.retry(d.Retry)
	if d.Dropped != nil && len(d.Result.IPs) > 0 && !slices.Equal(current, d.Result.IPs) {
		r.Recorder.Eventf(&svc, corev1.EventTypeWarning, ReasonIPReleased,
			"Released %s: %v", joinIPs(current), d.Dropped)
	}
	if d.Err != nil {
		r.failed(&svc, d.Err, d.Report)
	}
	if statusUpToDate(&svc, d.Result, r.IPMode) {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Status().Update(ctx, withStatus(&svc, d.Result, r.IPMode)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		if apierrors.IsConflict(err) {
			// A newer version is on its way through the cache and its event
			// reconciles again; the requeue is only a backstop.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, fmt.Errorf("update status of service %s: %w", key, err)
	}
	if len(d.Result.IPs) > 0 && !slices.Equal(current, d.Result.IPs) {
		r.Metrics.AllocationLatency.Observe(time.Since(start).Seconds())
		r.Recorder.Eventf(&svc, corev1.EventTypeNormal, ReasonIPAllocated,
			"Assigned %s from pool %q", joinIPs(d.Result.IPs), d.Result.Pool)
	}
	if len(d.Result.IPs) == 0 && len(current) > 0 && d.Dropped != nil {
		r.Recorder.Eventf(&svc, corev1.EventTypeWarning, ReasonIPReleased,
			"Released %s: %v", joinIPs(current), d.Dropped)
	}
	r.Metrics.PendingServices.Set(float64(r.State.PendingCount()))
	return ctrl.Result{}, nil
}

// release frees the addresses of a Service IronLB no longer handles and
// removes what IronLB wrote to its status.
func (r *Reconciler) release(ctx context.Context, svc *corev1.Service, key ipam.ServiceKey) error {
	res, retry := r.State.Release(key)
	r.retry(retry)
	r.forgetWarnings(key)
	_, ours := svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool]
	if !ours {
		return nil
	}
	if err := r.Client.Status().Update(ctx, withStatus(svc, ipam.Result{}, r.IPMode)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("clear status of service %s: %w", key, err)
	}
	if len(res.IPs) > 0 {
		r.Recorder.Eventf(svc, corev1.EventTypeNormal, ReasonIPReleased,
			"Released %s: the Service is no longer a LoadBalancer of class %q", joinIPs(res.IPs), r.LoadBalancerClass)
	}
	return nil
}

// retry enqueues Services waiting for an address. The State has already
// let the address go, so a Service reconciled from here on can take it
// even before the freeing Service's status is written.
func (r *Reconciler) retry(keys []ipam.ServiceKey) {
	if len(keys) > 0 && r.Retry != nil {
		r.Retry.Add(Requests(keys)...)
	}
}

// failed records an allocation failure; the event is sent only when the
// failure differs from the last one reported for this Service.
func (r *Reconciler) failed(svc *corev1.Service, err error, report bool) {
	reason := string(ipam.ReasonOf(err))
	var ae *ipam.AllocationError
	if !errors.As(err, &ae) {
		reason = "InvalidRequest"
	}
	r.Metrics.AllocationFailures.WithLabelValues(reason).Inc()
	if report {
		msg := err.Error()
		if src := svcrequest.Source(svc, err); src != "" {
			msg = src + ": " + msg // what to fix, e.g. "annotation ironlb.io/address-pool: pool "x" does not exist"
		}
		r.Recorder.Event(svc, corev1.EventTypeWarning, ReasonAllocationFailed, msg)
	}
}

// warn sends deprecation warnings (MetalLB annotations) once per content.
func (r *Reconciler) warn(svc *corev1.Service, key ipam.ServiceKey, warnings []string) {
	text := strings.Join(warnings, "; ")
	r.warnMu.Lock()
	if r.warned == nil {
		r.warned = map[ipam.ServiceKey]string{}
	}
	seen := r.warned[key] == text
	if text == "" {
		delete(r.warned, key)
	} else {
		r.warned[key] = text
	}
	r.warnMu.Unlock()
	if !seen && text != "" {
		r.Recorder.Event(svc, corev1.EventTypeWarning, ReasonDeprecated, text)
	}
}

func (r *Reconciler) forgetWarnings(key ipam.ServiceKey) {
	r.warnMu.Lock()
	delete(r.warned, key)
	r.warnMu.Unlock()
}

func joinIPs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}
