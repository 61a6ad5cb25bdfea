package configsource

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// ConfigChanged passes every event except an update that changes no more
// than an IPAddressPool's address counts. The controller rewrites those
// counts whenever a Service takes or frees an address, and nothing
// compiled from the objects depends on them: without this filter each
// allocation would recompile the configuration in the controller and in
// every speaker, and wake every speaker's layer 2 and BGP passes.
var ConfigChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return !countsOnly(e.ObjectOld, e.ObjectNew)
}}

// countsOnly reports whether a and b are the same IPAddressPool but for its
// status counts, the metadata every write changes, and the type meta (an
// object from the informer's first list carries it, one from a watch event
// may not).
func countsOnly(a, b any) bool {
	pa, ok := a.(*v1beta1.IPAddressPool)
	if !ok {
		return false
	}
	pb, ok := b.(*v1beta1.IPAddressPool)
	if !ok {
		return false
	}
	return equality.Semantic.DeepEqual(withoutCounts(pa), withoutCounts(pb))
}

func withoutCounts(p *v1beta1.IPAddressPool) *v1beta1.IPAddressPool {
	c := p.DeepCopy()
	c.Status.IPv4, c.Status.IPv6 = nil, nil
	c.TypeMeta = metav1.TypeMeta{}
	c.ResourceVersion, c.ManagedFields = "", nil
	return c
}
