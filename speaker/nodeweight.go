package main

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/speaker/l2plan"
)

// ReasonInvalidAnnotation is the reason of the Warning event on a Node whose
// IronLB annotation is not valid.
const ReasonInvalidAnnotation = "InvalidAnnotation"

// nodeWeightWatch reports an invalid layer 2 weight annotation on this
// speaker's own Node (every speaker elects with it, counting it as 1; one
// speaker per Node says so, so the Event is not repeated by every node).
type nodeWeightWatch struct {
	client   client.Client
	recorder record.EventRecorder
	log      logr.Logger
	node     string
	last     string // the error last reported; "" when valid
}

func (w *nodeWeightWatch) setup(mgr ctrl.Manager) error {
	own := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == w.node })
	annotation := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetAnnotations()[l2plan.AnnotationWeight] != e.ObjectNew.GetAnnotations()[l2plan.AnnotationWeight]
	}}
	return ctrl.NewControllerManagedBy(mgr).Named("speaker-node-weight").
		For(&corev1.Node{}, builder.WithPredicates(own, annotation)).
		Complete(w)
}

func (w *nodeWeightWatch) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var n corev1.Node
	if err := w.client.Get(ctx, req.NamespacedName, &n); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	problem := ""
	if _, err := l2plan.ParseWeight(n.Annotations[l2plan.AnnotationWeight]); err != nil {
		problem = err.Error()
	}
	if problem == w.last {
		return reconcile.Result{}, nil
	}
	w.last = problem
	if problem == "" {
		w.log.Info("layer 2 weight annotation valid again", "node", n.Name)
		return reconcile.Result{}, nil
	}
	w.log.Info("invalid layer 2 weight annotation", "node", n.Name, "error", problem)
	w.recorder.Event(&n, corev1.EventTypeWarning, ReasonInvalidAnnotation, "Node "+n.Name+": "+problem)
	return reconcile.Result{}, nil
}
