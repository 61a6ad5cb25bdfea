package config

import (
	"reflect"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// Resources is every IronLB object Compile reads. Order within a slice does
// not matter.
type Resources struct {
	Pools             []v1beta1.IPAddressPool
	L2Advertisements  []v1beta1.L2Advertisement
	BGPAdvertisements []v1beta1.BGPAdvertisement
	BGPPeers          []v1beta1.BGPPeer
	BFDProfiles       []v1beta1.BFDProfile
	Communities       []v1beta1.Community

	// Ignored lists the objects Load read that are not ironlb.io kinds
	// (Services, ConfigMaps, ...). Compile does not look at it.
	Ignored []IgnoredObject
}

// IgnoredObject is an object Load skipped because it is not an IronLB kind.
type IgnoredObject struct {
	Source     string // file name given to Load
	Document   int    // 1-based index of the YAML/JSON document in Source
	APIVersion string
	Kind       string
	Name       string
}

// With returns a copy of r in which obj replaces every object of its kind
// and name, or is added if there was none. obj is deep-copied. When obj has
// no status (an object from a file, or an admission request for a create)
// and replaces an object, it takes that object's status and creation time,
// as the API server keeps them across a spec update: what the replaced
// object had in force counts for the new one. Objects of other types are
// not IronLB kinds: r is returned unchanged (as a copy). r itself is never
// modified.
func (r Resources) With(obj runtime.Object) Resources {
	out := r.clone()
	switch o := obj.(type) {
	case *v1beta1.IPAddressPool:
		out.Pools = replace(out.Pools, o.DeepCopy(), func(n, old *v1beta1.IPAddressPool) { keepStatus(n, old, &n.Status, old.Status) })
	case *v1beta1.L2Advertisement:
		out.L2Advertisements = replace(out.L2Advertisements, o.DeepCopy(), func(n, old *v1beta1.L2Advertisement) { keepStatus(n, old, &n.Status, old.Status) })
	case *v1beta1.BGPAdvertisement:
		out.BGPAdvertisements = replace(out.BGPAdvertisements, o.DeepCopy(), func(n, old *v1beta1.BGPAdvertisement) { keepStatus(n, old, &n.Status, old.Status) })
	case *v1beta1.BGPPeer:
		out.BGPPeers = replace(out.BGPPeers, o.DeepCopy(), func(n, old *v1beta1.BGPPeer) { keepStatus(n, old, &n.Status, old.Status) })
	case *v1beta1.BFDProfile:
		out.BFDProfiles = replace(out.BFDProfiles, o.DeepCopy(), func(n, old *v1beta1.BFDProfile) { keepStatus(n, old, &n.Status, old.Status) })
	case *v1beta1.Community:
		out.Communities = replace(out.Communities, o.DeepCopy(), func(n, old *v1beta1.Community) { keepStatus(n, old, &n.Status, old.Status) })
	}
	return out
}

// replace puts n in place of the objects named like it (the first of
// them passed to inherit), or appends it.
func replace[T any, P interface {
	*T
	named
}](items []T, n P, inherit func(n, old P)) []T {
	if i := slices.IndexFunc(items, func(o T) bool { return P(&o).GetName() == n.GetName() }); i >= 0 {
		inherit(n, P(&items[i]))
	}
	return append(without[T, P](items, n.GetName()), *n)
}

// keepStatus gives n the old object's status and creation time when n
// carries no status of its own.
func keepStatus[S any](n, old interface{ GetCreationTimestamp() metav1.Time }, status *S, oldStatus S) {
	var zero S
	if !reflect.DeepEqual(*status, zero) {
		return
	}
	*status = oldStatus
	if m, ok := n.(interface{ SetCreationTimestamp(metav1.Time) }); ok {
		if t := n.GetCreationTimestamp(); t.IsZero() {
			m.SetCreationTimestamp(old.GetCreationTimestamp())
		}
	}
}

// Without returns a copy of r without the objects of kind (one of the Kind*
// constants) named name. r itself is never modified.
func (r Resources) Without(kind, name string) Resources {
	out := r.clone()
	switch kind {
	case KindIPAddressPool:
		out.Pools = without(out.Pools, name)
	case KindL2Advertisement:
		out.L2Advertisements = without(out.L2Advertisements, name)
	case KindBGPAdvertisement:
		out.BGPAdvertisements = without(out.BGPAdvertisements, name)
	case KindBGPPeer:
		out.BGPPeers = without(out.BGPPeers, name)
	case KindBFDProfile:
		out.BFDProfiles = without(out.BFDProfiles, name)
	case KindCommunity:
		out.Communities = without(out.Communities, name)
	}
	return out
}

// clone copies the slices (not the objects: With and Without only add and
// remove whole objects, and Compile never modifies its input).
func (r Resources) clone() Resources {
	return Resources{
		Pools:             slices.Clone(r.Pools),
		L2Advertisements:  slices.Clone(r.L2Advertisements),
		BGPAdvertisements: slices.Clone(r.BGPAdvertisements),
		BGPPeers:          slices.Clone(r.BGPPeers),
		BFDProfiles:       slices.Clone(r.BFDProfiles),
		Communities:       slices.Clone(r.Communities),
		Ignored:           slices.Clone(r.Ignored),
	}
}

// named is satisfied by pointers to every v1beta1 object.
type named interface{ GetName() string }

// without returns items minus those named name; items is a fresh clone, so
// filtering in place is safe.
func without[T any, P interface {
	*T
	named
}](items []T, name string) []T {
	return slices.DeleteFunc(items, func(o T) bool { return P(&o).GetName() == name })
}
