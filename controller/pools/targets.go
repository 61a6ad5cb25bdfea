package pools

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools/status;l2advertisements/status;bgpadvertisements/status;bgppeers/status;bfdprofiles/status;communities/status,verbs=get;update;patch

// target is one configuration object whose status the configuration
// controller writes: the object itself (inside the listed Resources), its
// ConfigStatus and a way to record its spec as the last valid one.
type target struct {
	kind       string
	obj        client.Object
	status     *v1beta1.ConfigStatus
	recordSpec func()
}

// targets returns every object of res, pointing into res.
func targets(res *config.Resources) []target {
	var out []target
	for i := range res.Pools {
		o := &res.Pools[i]
		out = append(out, target{config.KindIPAddressPool, o, &o.Status.ConfigStatus, func() { o.Status.LastValidSpec = o.Spec.DeepCopy() }})
	}
	for i := range res.L2Advertisements {
		o := &res.L2Advertisements[i]
		out = append(out, target{config.KindL2Advertisement, o, &o.Status.ConfigStatus, func() { o.Status.LastValidSpec = o.Spec.DeepCopy() }})
	}
	for i := range res.BGPAdvertisements {
		o := &res.BGPAdvertisements[i]
		out = append(out, target{config.KindBGPAdvertisement, o, &o.Status.ConfigStatus, func() { o.Status.LastValidSpec = o.Spec.DeepCopy() }})
	}
	for i := range res.BGPPeers {
		o := &res.BGPPeers[i]
		out = append(out, target{config.KindBGPPeer, o, &o.Status.ConfigStatus, func() { o.Status.LastValidSpec = o.Spec.DeepCopy() }})
	}
	for i := range res.BFDProfiles {
		o := &res.BFDProfiles[i]
		out = append(out, target{config.KindBFDProfile, o, &o.Status.ConfigStatus, func() { o.Status.LastValidSpec = o.Spec.DeepCopy() }})
	}
	for i := range res.Communities {
		o := &res.Communities[i]
		out = append(out, target{config.KindCommunity, o, &o.Status.ConfigStatus, func() { o.Status.LastValidSpec = o.Spec.DeepCopy() }})
	}
	return out
}
