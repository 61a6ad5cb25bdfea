package cachetrim

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// The fixtures are what an API server sends: every field a reader of the
// speaker uses, set so that it changes some reader's answer, beside the
// fields the transforms drop.

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func managed() []metav1.ManagedFieldsEntry {
	return []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:ports":{}}}`)}}}
}

func services() []*corev1.Service {
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "shop", UID: types.UID("uid-web"), ResourceVersion: "11", CreationTimestamp: created,
			Labels: map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{
				svcrequest.AnnotationIPAllocatedFromPool:           "l2",
				datapath.AnnotationScheduler:                       "sh",
				datapath.AnnotationSchedulerFlags:                  "sh-port",
				datapath.AnnotationSourceRanges:                    "192.0.2.0/25",
				"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","kind":"Service"}`,
				"metallb.io/address-pool":                          "other",
			},
			ManagedFields: managed(),
			Finalizers:    []string{"service.kubernetes.io/load-balancer-cleanup"},
		},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ClusterIP:             "10.96.0.10",
			ClusterIPs:            []string{"10.96.0.10"},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			Selector:              map[string]string{"app": "web"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080},
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, NodePort: 30053},
			},
		},
		Status: corev1.ServiceStatus{
			LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}},
			Conditions:   []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Set", LastTransitionTime: created}},
		},
	}
	api := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "api", Namespace: "shop", UID: types.UID("uid-api"), ResourceVersion: "12", CreationTimestamp: created,
			Labels:        map[string]string{"app": "api"},
			Annotations:   map[string]string{svcrequest.AnnotationIPAllocatedFromPool: "bgp", "example.com/owner": "team-a"},
			ManagedFields: managed(),
		},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ClusterIP:             "10.96.0.11",
			ClusterIPs:            []string{"10.96.0.11"},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			Selector:              map[string]string{"app": "api"},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			HealthCheckNodePort:   32000,
			Ports:                 []corev1.ServicePort{{Name: "grpc", Protocol: corev1.ProtocolTCP, Port: 443, NodePort: 30443}},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.11"}}}},
	}
	return []*corev1.Service{web, api}
}

func endpoint(addr, node string, ready, serving, terminating bool, zones ...string) discoveryv1.Endpoint {
	ep := discoveryv1.Endpoint{
		Addresses:  []string{addr},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)},
		NodeName:   ptr.To(node),
		Hostname:   ptr.To("pod-" + node),
		Zone:       ptr.To("zone-of-" + node),
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "pod-" + addr, UID: types.UID("uid-pod-" + addr)},
		DeprecatedTopology: map[string]string{
			"kubernetes.io/hostname": node,
		},
	}
	if len(zones) > 0 {
		ep.Hints = &discoveryv1.EndpointHints{}
		for _, z := range zones {
			ep.Hints.ForZones = append(ep.Hints.ForZones, discoveryv1.ForZone{Name: z})
		}
		ep.Hints.ForNodes = []discoveryv1.ForNode{{Name: node}}
	}
	return ep
}

func slice(name, svc string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "shop", UID: types.UID("uid-" + name), ResourceVersion: "21", CreationTimestamp: created,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io", "app": svc,
			},
			Annotations:     map[string]string{"endpoints.kubernetes.io/last-change-trigger-time": "2026-01-02T03:04:05Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc, UID: types.UID("uid-" + svc)}},
			ManagedFields:   managed(),
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func port(name string, proto corev1.Protocol, p int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(proto), Port: ptr.To(p), AppProtocol: ptr.To("kubernetes.io/h2c")}
}

func endpointSlices() []*discoveryv1.EndpointSlice {
	return []*discoveryv1.EndpointSlice{
		// Every ready endpoint hinted: hints decide which are used.
		slice("web-a", "web", []discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 8080), port("dns", corev1.ProtocolUDP, 5353)},
			endpoint("198.51.100.1", "n1", true, true, false, "a"),
			endpoint("198.51.100.2", "n2", true, true, false, "b"),
			endpoint("198.51.100.3", "n3", false, true, true, "a")),
		// A slice without the Service's ports counts for nothing.
		slice("web-b", "web", []discoveryv1.EndpointPort{port("metrics", corev1.ProtocolTCP, 9090)},
			endpoint("198.51.100.4", "n1", true, true, false)),
		// Only terminating endpoints on n1: the rest serve elsewhere.
		slice("api-a", "api", []discoveryv1.EndpointPort{port("grpc", corev1.ProtocolTCP, 8443)},
			endpoint("198.51.100.5", "n1", false, true, true),
			endpoint("198.51.100.6", "n2", true, true, false),
			endpoint("198.51.100.7", "n2", false, false, true),
			endpoint("not-an-ip", "n3", true, true, false)),
		// Belongs to no Service.
		slice("orphan", "", []discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 80)},
			endpoint("198.51.100.8", "n1", true, true, false)),
	}
}

func node(name string, mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, UID: types.UID("uid-" + name), ResourceVersion: "31", CreationTimestamp: created,
			Labels: map[string]string{"kubernetes.io/hostname": name, corev1.LabelTopologyZone: "a", "rack": "r1"},
			Annotations: map[string]string{
				l2plan.AnnotationWeight:                                  "3",
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
			ManagedFields: managed(),
		},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}, ProviderID: "metal://" + name,
			Taints: []corev1.Taint{{Key: "dedicated", Value: "lb", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: name},
				{Type: corev1.NodeInternalIP, Address: "192.0.2.1"},
				{Type: corev1.NodeInternalIP, Address: "2001:db8::1"},
			},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: created},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastHeartbeatTime: created},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: created, LastTransitionTime: created},
			},
			Images:   []corev1.ContainerImage{{Names: []string{"registry.example/ironlb/speaker@sha256:0123"}, SizeBytes: 1 << 25}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.34.2", OSImage: "Debian"},
			Capacity: corev1.ResourceList{},
		},
	}
	if mutate != nil {
		mutate(n)
	}
	return n
}

func nodes() []*corev1.Node {
	return []*corev1.Node{
		node("n1", nil),
		node("n2", func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			n.Labels[corev1.LabelTopologyZone] = "b"
			n.Status.Conditions[1].Status = corev1.ConditionTrue // NetworkUnavailable
		}),
		node("n3", func(n *corev1.Node) {
			n.Annotations[l2plan.AnnotationWeight] = "x"
			n.Status.Conditions[2].Status = corev1.ConditionFalse // not Ready
		}),
		node("n4", func(n *corev1.Node) { n.Labels[l2plan.LabelDrain] = "true" }),
	}
}

// largeSlice is a slice of 10 endpoints, as e2e/speakerscale's Services
// have: enough for the decoder to leave spare room in their array.
func largeSlice() *discoveryv1.EndpointSlice {
	var eps []discoveryv1.Endpoint
	for i := range 10 {
		eps = append(eps, endpoint(fmt.Sprintf("198.51.100.%d", i+1), fmt.Sprintf("n%d", i%3+1), true, true, false, "a"))
	}
	return slice("web-c", "web", []discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 8080)}, eps...)
}
