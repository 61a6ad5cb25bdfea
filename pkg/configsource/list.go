// Package configsource reads the ironlb.io objects from the API server (in
// practice from an informer cache) into config.Resources, and maps changes
// of any of them to one reconcile key, so the controller, the webhook and
// the speakers compile the same input the same way.
package configsource

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
)

// +kubebuilder:rbac:groups=ironlb.io,resources=ipaddresspools;l2advertisements;bgpadvertisements;bgppeers;bfdprofiles;communities,verbs=get;list;watch

// List reads every IronLB object.
func List(ctx context.Context, c client.Reader) (config.Resources, error) {
	var (
		r     config.Resources
		pools v1beta1.IPAddressPoolList
		l2s   v1beta1.L2AdvertisementList
		bgps  v1beta1.BGPAdvertisementList
		peers v1beta1.BGPPeerList
		bfds  v1beta1.BFDProfileList
		comms v1beta1.CommunityList
	)
	for _, l := range []client.ObjectList{&pools, &l2s, &bgps, &peers, &bfds, &comms} {
		if err := c.List(ctx, l); err != nil {
			return r, fmt.Errorf("list %T: %w", l, err)
		}
	}
	r.Pools = pools.Items
	r.L2Advertisements = l2s.Items
	r.BGPAdvertisements = bgps.Items
	r.BGPPeers = peers.Items
	r.BFDProfiles = bfds.Items
	r.Communities = comms.Items
	return r, nil
}

// Objects returns an empty object of every IronLB kind, for watches.
func Objects() []client.Object {
	return []client.Object{
		&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.BGPPeer{}, &v1beta1.BFDProfile{}, &v1beta1.Community{},
	}
}
