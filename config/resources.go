package config

import (
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

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
// and name, or is added if there was none. obj is deep-copied. Objects of
// other types are not IronLB kinds: r is returned unchanged (as a copy).
// r itself is never modified.
func (r Resources) With(obj client.Object) Resources {
	out := r.clone()
	switch o := obj.(type) {
	case *v1beta1.IPAddressPool:
		out.Pools = append(without(out.Pools, o.Name), *o.DeepCopy())
	case *v1beta1.L2Advertisement:
		out.L2Advertisements = append(without(out.L2Advertisements, o.Name), *o.DeepCopy())
	case *v1beta1.BGPAdvertisement:
		out.BGPAdvertisements = append(without(out.BGPAdvertisements, o.Name), *o.DeepCopy())
	case *v1beta1.BGPPeer:
		out.BGPPeers = append(without(out.BGPPeers, o.Name), *o.DeepCopy())
	case *v1beta1.BFDProfile:
		out.BFDProfiles = append(without(out.BFDProfiles, o.Name), *o.DeepCopy())
	case *v1beta1.Community:
		out.Communities = append(without(out.Communities, o.Name), *o.DeepCopy())
	}
	return out
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
