package dpsync

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/lbstate"
)

// desired is this node's desired datapath State, kept up to date one
// Service at a time, so that an event costs time in proportion to what it
// affects rather than to the number of Services.
//
// The services of one VIP depend on each other (the oldest Service wins a
// VIP:port claimed twice), and on nothing else. So when a Service changes,
// the VIPs it had and has are recomputed with datapath.Desired over the
// Services on those VIPs, and the rest of the State stays as it is. The
// result is the same as datapath.Desired over everything (the tests check
// that).
type desired struct {
	node  string
	zone  string          // the node's topology.kubernetes.io/zone, for topology hints
	dead  map[string]bool // nodes held dead by the speakers' liveness protocol
	state datapath.State
	// vipsOf: the VIPs each Service had when it was last looked at;
	// svcsOn is the reverse index.
	vipsOf map[types.NamespacedName][]netip.Addr
	svcsOn map[netip.Addr]map[types.NamespacedName]bool
	// keysOn: the State's services of each VIP.
	keysOn map[netip.Addr]map[datapath.ServiceKey]bool
}

// newDesired computes the whole State from scratch.
func newDesired(node, zone string, dead map[string]bool, svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice) *desired {
	d := &desired{
		node:   node,
		zone:   zone,
		dead:   dead,
		vipsOf: map[types.NamespacedName][]netip.Addr{},
		svcsOn: map[netip.Addr]map[types.NamespacedName]bool{},
		keysOn: map[netip.Addr]map[datapath.ServiceKey]bool{},
	}
	d.state = datapath.Desired(datapath.Inputs{Node: node, Zone: zone, DeadNodes: dead, Services: svcs, EndpointSlices: eps})
	for _, svc := range svcs {
		d.setVIPs(nameOf(svc), datapath.VIPs(svc))
	}
	for k := range d.state.Services {
		d.addKey(k)
	}
	return d
}

// group returns what a change of Service name (now svc; nil when it is gone
// or not served) affects: the VIPs it had or has, and the other Services on
// those VIPs, whose current objects update needs.
func (d *desired) group(name types.NamespacedName, svc *corev1.Service) (vips []netip.Addr, others []types.NamespacedName) {
	vips = slices.Clone(d.vipsOf[name])
	if svc != nil {
		for _, a := range datapath.VIPs(svc) {
			if !slices.Contains(vips, a) {
				vips = append(vips, a)
			}
		}
	}
	seen := map[types.NamespacedName]bool{name: true}
	for _, a := range vips {
		for o := range d.svcsOn[a] {
			if !seen[o] {
				seen[o] = true
				others = append(others, o)
			}
		}
	}
	slices.SortFunc(others, lbstate.CompareKeys)
	return vips, others
}

// update recomputes the VIPs vips (from group) after Service name changed
// to svc (nil: gone or not served); in holds the current objects of the
// other Services on those VIPs and the EndpointSlices of all of them. It
// returns the services of the State that may have changed, and the
// problems found.
func (d *desired) update(name types.NamespacedName, svc *corev1.Service, vips []netip.Addr, in datapath.Inputs) ([]datapath.ServiceKey, []datapath.Problem) {
	in.Node, in.Zone, in.DeadNodes = d.node, d.zone, d.dead
	if svc != nil {
		in.Services = append(in.Services, svc)
		d.setVIPs(name, datapath.VIPs(svc))
	} else {
		d.setVIPs(name, nil)
	}
	got := datapath.Desired(in)
	var touched []datapath.ServiceKey
	for _, a := range vips {
		for k := range d.keysOn[a] {
			touched = append(touched, k)
			delete(d.state.Services, k)
		}
		delete(d.keysOn, a)
	}
	for k, vs := range got.Services {
		if !slices.Contains(vips, k.VIP) {
			continue // another VIP of a Service in the group: not recomputed here
		}
		d.state.Services[k] = vs
		d.addKey(k)
		touched = append(touched, k)
	}
	return touched, got.Problems
}

func (d *desired) setVIPs(name types.NamespacedName, vips []netip.Addr) {
	for _, a := range d.vipsOf[name] {
		delete(d.svcsOn[a], name)
		if len(d.svcsOn[a]) == 0 {
			delete(d.svcsOn, a)
		}
	}
	if len(vips) == 0 {
		delete(d.vipsOf, name)
		return
	}
	d.vipsOf[name] = vips
	for _, a := range vips {
		if d.svcsOn[a] == nil {
			d.svcsOn[a] = map[types.NamespacedName]bool{}
		}
		d.svcsOn[a][name] = true
	}
}

func (d *desired) addKey(k datapath.ServiceKey) {
	if d.keysOn[k.VIP] == nil {
		d.keysOn[k.VIP] = map[datapath.ServiceKey]bool{}
	}
	d.keysOn[k.VIP][k] = true
}

func nameOf(svc *corev1.Service) types.NamespacedName {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
}
