package healthcheck

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Over random histories of Service and EndpointSlice changes, the ports
// the tracker serves equal Desired's from scratch after every step, and
// the ports a step hands back cover every port whose Entry changed.
func TestTrackerEqualsDesired(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		tr := NewTracker(node)
		svcs := map[types.NamespacedName]*corev1.Service{}
		own := map[types.NamespacedName][]*discoveryv1.EndpointSlice{}
		before := map[uint16]Entry{}
		for step := 0; step < 40; step++ {
			name := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("svc-%d", rng.IntN(5))}
			switch rng.IntN(4) {
			case 0: // deleted
				delete(svcs, name)
				delete(own, name)
			case 1: // its endpoints changed
				own[name] = randomSlices(rng, name)
			default: // the Service changed
				svcs[name] = randomService(rng, name)
			}
			ports, _ := tr.Set(name, svcs[name], own[name])

			var all []*corev1.Service
			var allSlices []*discoveryv1.EndpointSlice
			for k, s := range svcs {
				all = append(all, s)
				allSlices = append(allSlices, own[k]...)
			}
			want, _ := Desired(all, allSlices, node)
			got := map[uint16]Entry{}
			for p := range union(want, before) {
				if e, ok := tr.Entry(p); ok {
					got[p] = e
				}
			}
			if !maps.Equal(got, want) {
				t.Fatalf("seed %d step %d: tracker serves %v, Desired %v", seed, step, got, want)
			}
			for p := range union(want, before) {
				if want[p] != before[p] && !slices.Contains(ports, p) {
					t.Fatalf("seed %d step %d: port %d changed (%v -> %v) but Set handed back only %v", seed, step, p, before[p], want[p], ports)
				}
			}
			before = want
		}
	}
}

func randomService(rng *rand.Rand, name types.NamespacedName) *corev1.Service {
	// Few ports, so that two Services often claim one.
	s := lbLocal(name.Namespace, name.Name, int32(30100+rng.IntN(3)))
	switch rng.IntN(6) {
	case 0:
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	case 1:
		s.Spec.HealthCheckNodePort = 0
	case 2:
		dualStack(s)
	}
	return s
}

func randomSlices(rng *rand.Rand, name types.NamespacedName) []*discoveryv1.EndpointSlice {
	var eps []ep
	for i := range rng.IntN(4) {
		e := there(fmt.Sprintf("192.0.2.%d", 10+i))
		if rng.IntN(2) == 0 {
			e = here(fmt.Sprintf("192.0.2.%d", 10+i))
		}
		eps = append(eps, e.readyIs(rng.IntN(4) != 0))
	}
	return []*discoveryv1.EndpointSlice{slice(name.Namespace, name.Name, name.Name+"-1", discoveryv1.AddressTypeIPv4, defaultPorts, eps...)}
}

func union(a, b map[uint16]Entry) map[uint16]bool {
	out := map[uint16]bool{}
	for p := range a {
		out[p] = true
	}
	for p := range b {
		out[p] = true
	}
	return out
}

func TestTrackerSecondClaimantServesWhenTheFirstGoes(t *testing.T) {
	tr := NewTracker(node)
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	tr.Set(b, lbLocal("ns", "b", 30100), []*discoveryv1.EndpointSlice{slice("ns", "b", "b-1", discoveryv1.AddressTypeIPv4, defaultPorts, here("192.0.2.1"))})
	if _, problems := tr.Set(a, lbLocal("ns", "a", 30100), nil); len(problems) != 0 {
		t.Fatalf("a, first in order, reported %v", problems)
	}
	if e, _ := tr.Entry(30100); e.Service != a {
		t.Fatalf("port 30100 serves %v, want %v", e, a)
	}
	ports, _ := tr.Set(a, nil, nil)
	if e, _ := tr.Entry(30100); e != (Entry{Service: b, LocalEndpoints: 1}) || !slices.Equal(ports, []uint16{30100}) {
		t.Fatalf("after a went: port 30100 serves %v (changed ports %v), want b with 1 endpoint", e, ports)
	}
}
