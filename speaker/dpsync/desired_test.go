package dpsync

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/datapath"
)

// world is a cluster's Services and EndpointSlices, changed at random.
type world struct {
	svcs  map[types.NamespacedName]*corev1.Service
	slice map[types.NamespacedName]*discoveryv1.EndpointSlice // one per Service
}

// Few VIPs and ports, so Services share VIPs and clash over VIP:port.
var (
	testVIPs  = []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "2001:db8:300::1"}
	testPorts = []int32{80, 443}
	testPods  = []string{"192.0.2.17", "192.0.2.18", "192.0.2.33", "2001:db8:200:1::5"}
)

func (w *world) randomService(r *rand.Rand, name types.NamespacedName) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name,
			CreationTimestamp: metav1.NewTime(time.Unix(int64(r.IntN(3)), 0))},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
	}
	if r.IntN(3) == 0 {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	for i := 0; i < 1+r.IntN(2); i++ {
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: testVIPs[r.IntN(len(testVIPs))]})
	}
	for i := 0; i < 1+r.IntN(2); i++ {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", i), Port: testPorts[r.IntN(len(testPorts))], Protocol: corev1.ProtocolTCP})
	}
	return svc
}

func (w *world) randomSlice(r *rand.Rand, name types.NamespacedName) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name + "-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: name.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	if r.IntN(2) == 0 {
		sl.AddressType = discoveryv1.AddressTypeIPv6
	}
	for i := 0; i < 2; i++ {
		pn, port := fmt.Sprintf("p%d", i), int32(8080+i)
		sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: &pn, Port: &port})
	}
	for _, p := range testPods {
		if r.IntN(2) == 0 {
			node := []string{"n1", "n2"}[r.IntN(2)]
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{p}, NodeName: &node})
		}
	}
	return sl
}

func (w *world) all() ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var svcs []*corev1.Service
	var eps []*discoveryv1.EndpointSlice
	for _, s := range w.svcs {
		svcs = append(svcs, s)
	}
	for _, s := range w.slice {
		eps = append(eps, s)
	}
	return svcs, eps
}

// inputsFor is what the Syncer fetches for update: the other Services'
// objects and the EndpointSlices of the whole group.
func (w *world) inputsFor(name types.NamespacedName, others []types.NamespacedName) datapath.Inputs {
	var in datapath.Inputs
	if sl := w.slice[name]; sl != nil {
		in.EndpointSlices = append(in.EndpointSlices, sl)
	}
	for _, o := range others {
		if s := w.svcs[o]; s != nil {
			in.Services = append(in.Services, s)
		}
		if sl := w.slice[o]; sl != nil {
			in.EndpointSlices = append(in.EndpointSlices, sl)
		}
	}
	return in
}

// After any sequence of changes, each followed by the update of the
// Service it touched, the incremental State is the State datapath.Desired
// computes from everything, and the touched keys cover every difference.
func TestIncrementalStateMatchesDesired(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		w := &world{svcs: map[types.NamespacedName]*corev1.Service{}, slice: map[types.NamespacedName]*discoveryv1.EndpointSlice{}}
		names := make([]types.NamespacedName, 6)
		for i := range names {
			names[i] = types.NamespacedName{Namespace: []string{"a", "b"}[i%2], Name: fmt.Sprintf("s%d", i)}
			if r.IntN(2) == 0 {
				w.svcs[names[i]] = w.randomService(r, names[i])
				w.slice[names[i]] = w.randomSlice(r, names[i])
			}
		}
		svcs, eps := w.all()
		// Half the histories run with a node held dead by the speakers.
		var dead map[string]bool
		if seed%2 == 1 {
			dead = map[string]bool{"n2": true}
		}
		d := newDesired("n1", "", dead, svcs, eps)
		for step := 0; step < 40; step++ {
			name := names[r.IntN(len(names))]
			var what string
			switch r.IntN(4) {
			case 0:
				what = "service replaced"
				w.svcs[name] = w.randomService(r, name)
			case 1:
				what = "service deleted"
				delete(w.svcs, name)
			case 2:
				what = "endpoints replaced"
				w.slice[name] = w.randomSlice(r, name)
			case 3:
				what = "endpoints deleted"
				delete(w.slice, name)
			}
			before := d.state.Clone()
			svc := w.svcs[name]
			vips, others := d.group(name, svc)
			touched, _ := d.update(name, svc, vips, w.inputsFor(name, others))

			svcs, eps := w.all()
			want := datapath.Desired(datapath.Inputs{Node: "n1", DeadNodes: dead, Services: svcs, EndpointSlices: eps})
			if !reflect.DeepEqual(d.state.Services, want.Services) {
				t.Fatalf("seed %d step %d (%s %s): incremental state differs from Desired:\n got %v\nwant %v", seed, step, what, name, d.state.Services, want.Services)
			}
			full := datapath.Diff(before, want)
			byKeys := datapath.DiffKeys(before, want, touched)
			if !reflect.DeepEqual(full, byKeys) {
				t.Fatalf("seed %d step %d (%s %s): touched keys %v miss changes:\n full %+v\n keys %+v", seed, step, what, name, touched, full, byKeys)
			}
		}
	}
}
