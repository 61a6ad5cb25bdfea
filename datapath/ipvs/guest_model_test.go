//go:build vmguest

package ipvs

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/datapath"
)

// svcSpec describes a LoadBalancer Service for datapath.Desired, so guest
// tests exercise the model and the backend together.
type svcSpec struct {
	name      string
	vips      []netip.Addr
	ports     []corev1.ServicePort // nil: http 80 -> 8080
	local     bool                 // externalTrafficPolicy Local
	affinity  int32                // ClientIP timeout seconds; 0: none
	scheduler string
	sources   []string // spec.loadBalancerSourceRanges
	pods      []*pod
}

var httpPort = corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(echoPort)}

func (l *lab) state(specs ...svcSpec) datapath.State {
	l.t.Helper()
	in := datapath.Inputs{Node: nodeName}
	for i, sp := range specs {
		ports := sp.ports
		if ports == nil {
			ports = []corev1.ServicePort{httpPort}
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: sp.name, Annotations: map[string]string{},
				CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+i), 0))},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster},
		}
		if sp.local {
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
		if sp.affinity > 0 {
			svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			svc.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(sp.affinity)}}
		}
		svc.Spec.LoadBalancerSourceRanges = sp.sources
		if sp.scheduler != "" {
			svc.Annotations[datapath.AnnotationScheduler] = sp.scheduler
		}
		for _, v := range sp.vips {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: v.String()})
		}
		in.Services = append(in.Services, svc)
		for _, v6 := range []bool{false, true} {
			sl := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: sp.name + map[bool]string{false: "-v4", true: "-v6"}[v6], Labels: map[string]string{discoveryv1.LabelServiceName: sp.name}},
				AddressType: map[bool]discoveryv1.AddressType{false: discoveryv1.AddressTypeIPv4, true: discoveryv1.AddressTypeIPv6}[v6],
			}
			for _, sp := range ports {
				sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Protocol: ptr.To(sp.Protocol), Port: ptr.To(sp.TargetPort.IntVal)})
			}
			for _, p := range sp.pods {
				a := p.ip4
				if v6 {
					a = p.ip6
				}
				node := otherNode
				if p.local {
					node = nodeName
				}
				term := p.terminated
				sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
					Addresses: []string{a.String()}, NodeName: ptr.To(node),
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(!term), Serving: ptr.To(true), Terminating: ptr.To(term)},
				})
			}
			in.EndpointSlices = append(in.EndpointSlices, sl)
		}
	}
	st := datapath.Desired(in)
	if len(st.Problems) > 0 {
		l.t.Fatalf("test Services have problems: %v", st.Problems)
	}
	return st
}

func applyOK(t testing.TB, b *Backend, st datapath.State) {
	t.Helper()
	if err := b.Apply(t.Context(), st); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func podNames(pods ...*pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.name)
	}
	slices.Sort(out)
	return out
}

func keysOf(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type corev1ServicePort = corev1.ServicePort

var streamServicePort = corev1.ServicePort{Name: "stream", Protocol: corev1.ProtocolTCP, Port: 9000, TargetPort: intstr.FromInt32(streamPort)}
