package allocation

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services/status,verbs=update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the Service controller. Requeue lets the
// configuration controller enqueue the Services a change affects.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, requeue *trigger.Trigger, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("service-allocation").
		For(&corev1.Service{}).
		// A namespace's labels decide which pools its Services may use:
		// only Services still waiting for an address need another look.
		Watches(&corev1.Namespace{},
			handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
				return Requests(r.State.PendingIn(o.GetName()))
			}),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(requeue.Source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// Requests turns Service keys into reconcile requests.
func Requests(keys []ipam.ServiceKey) []reconcile.Request {
	reqs := make([]reconcile.Request, len(keys))
	for i, k := range keys {
		reqs[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Name}}
	}
	return reqs
}

// Restore rebuilds the allocation from every handled Service's status, the
// oldest Service first, and makes State ready. It returns the Services whose
// addresses could not be kept: the caller requeues them.
func (r *Reconciler) Restore(ctx context.Context, cfg *config.Config) ([]ipam.ServiceKey, error) {
	var svcs corev1.ServiceList
	if err := r.Client.List(ctx, &svcs); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var nss corev1.NamespaceList
	if err := r.Client.List(ctx, &nss); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	nsLabels := make(map[string]map[string]string, len(nss.Items))
	for _, ns := range nss.Items {
		nsLabels[ns.Name] = ns.Labels
	}
	restored := RestoreOrder(svcs.Items, r.Handles, nsLabels)
	lost := r.State.Restore(cfg, restored)
	keys := make([]ipam.ServiceKey, 0, len(lost))
	for k := range lost {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, ipam.ServiceKey.Compare)
	return keys, nil
}

// RestoreOrder lists the handled Services that have addresses in their
// status, oldest first (then by namespace/name), with the request each
// makes. A Service whose annotations no longer parse still keeps its
// addresses: it is restored with a request derived from the addresses.
func RestoreOrder(svcs []corev1.Service, handles func(*corev1.Service) bool, nsLabels map[string]map[string]string) []Restored {
	var out []Restored
	idx := make([]int, 0, len(svcs))
	for i := range svcs {
		if handles(&svcs[i]) && len(StatusIPs(&svcs[i])) > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		sa, sb := &svcs[a], &svcs[b]
		if c := sa.CreationTimestamp.Compare(sb.CreationTimestamp.Time); c != 0 {
			return c
		}
		return ipam.ServiceKey{Namespace: sa.Namespace, Name: sa.Name}.Compare(ipam.ServiceKey{Namespace: sb.Namespace, Name: sb.Name})
	})
	for _, i := range idx {
		svc := &svcs[i]
		ips := StatusIPs(svc)
		req, _, err := svcrequest.FromService(svc, nsLabels[svc.Namespace])
		if err != nil {
			req = fallbackRequest(svc, ips)
		}
		out = append(out, Restored{Request: req, IPs: ips})
	}
	return out
}

// fallbackRequest describes a Service whose annotations do not parse just
// well enough to keep the addresses it has.
func fallbackRequest(svc *corev1.Service, ips []netip.Addr) ipam.Request {
	req := ipam.Request{Service: ipam.ServiceKey{Namespace: svc.Namespace, Name: svc.Name}}
	for _, ip := range ips {
		req.Families = append(req.Families, ipam.FamilyOf(ip))
	}
	if len(ips) > 1 {
		req.FamilyPolicy = ipam.RequireDualStack
	}
	return req
}
