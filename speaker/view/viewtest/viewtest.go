// Package viewtest makes the Kubernetes objects that the tests and
// benchmarks of the view's consumers (l2sync, bgpsync) feed the view with:
// random ones for property tests, and a large regular cluster with its
// kinds of change for benchmarks. Test support only.
package viewtest

import (
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
)

// RandomService is a LoadBalancer Service ns/name of pool with one port,
// sometimes Local, usually with one of addrs (shared when another Service
// drew it too).
func RandomService(rng *rand.Rand, name, pool string, addrs []string) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: map[string]string{svcrequest.AnnotationIPAllocatedFromPool: pool}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	if rng.IntN(3) == 0 {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if rng.IntN(8) != 0 { // sometimes no address yet
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: addrs[rng.IntN(len(addrs))]}}
	}
	return s
}

// RandomSlice is an EndpointSlice ns/name of the Service svc with up to
// three endpoints on nodes, ready, serving or terminating, sometimes for
// a port the Service does not have.
func RandomSlice(rng *rand.Rand, svc, name string, nodes []string) *discoveryv1.EndpointSlice {
	port := []string{"http", "http", "http", "metrics"}[rng.IntN(4)]
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(port), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for range rng.IntN(4) {
		ready := rng.IntN(4) != 0
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("192.0.2.%d", rng.IntN(60))},
			NodeName:  ptr.To(nodes[rng.IntN(len(nodes))]),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready || rng.IntN(2) == 0),
				Terminating: ptr.To(!ready)},
		})
	}
	return sl
}

// RandomNode is a Node in zone a or b, sometimes not Ready, weighted or
// drained.
func RandomNode(rng *rand.Rand, name string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"zone": []string{"a", "b"}[rng.IntN(2)]}, Annotations: map[string]string{}}}
	ready := corev1.ConditionTrue
	if rng.IntN(6) == 0 {
		ready = corev1.ConditionFalse
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	if rng.IntN(4) == 0 {
		n.Annotations[l2plan.AnnotationWeight] = "2"
	}
	if rng.IntN(10) == 0 {
		n.Labels[l2plan.LabelDrain] = "true"
	}
	return n
}

// Cluster is n LoadBalancer Services of one pool, each with one address in
// 2001:db8:300::/112 and one EndpointSlice of 10 ready endpoints spread
// over 100 Ready nodes (node000 to node099, zone a); every tenth Service
// is Local.
type Cluster struct {
	Services []*corev1.Service
	Slices   []*discoveryv1.EndpointSlice
	Nodes    []*corev1.Node
}

// NewCluster builds a Cluster of n Services of pool.
func NewCluster(n int, pool string) *Cluster {
	c := &Cluster{}
	for i := range 100 {
		nd := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node%03d", i), Labels: map[string]string{"zone": "a"}}}
		nd.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		c.Nodes = append(c.Nodes, nd)
	}
	for i := range n {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("svc%05d", i), Annotations: map[string]string{svcrequest.AnnotationIPAllocatedFromPool: pool}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		}
		if i%10 == 0 {
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: fmt.Sprintf("2001:db8:300::%x", i+1)}}
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: svc.Name + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
			AddressType: discoveryv1.AddressTypeIPv6,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
		}
		for e := range 10 {
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("2001:db8:200::%x:%x", i, e)},
				NodeName:   ptr.To(c.Nodes[(i*7+e*13)%100].Name),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			})
		}
		c.Services = append(c.Services, svc)
		c.Slices = append(c.Slices, sl)
	}
	return c
}

// Feed hands every object to v.
func (c *Cluster) Feed(v *view.View) {
	for _, n := range c.Nodes {
		v.SetNode(n)
	}
	for i := range c.Services {
		v.SetService(c.Services[i])
		v.SetSlice(c.Slices[i])
	}
}

// Change is one kind of event: Do applies it for the i-th time to the
// cluster and the view.
type Change struct {
	Name   string
	Rounds int // changes per measurement
	Do     func(c *Cluster, v *view.View, i int)
}

// otherNode picks a node to change among node001 to node099: node000 is
// left alone, the node whose own speaker a benchmark may measure.
func otherNode(i int) int { return 1 + (i*37)%99 }

// Changes are the kinds of event benchmarks measure.
var Changes = []Change{
	// A Service's externalTrafficPolicy flips: the nodes that may attract
	// its traffic change from every node to those with its endpoints, or
	// back.
	{"service", 500, func(c *Cluster, v *view.View, i int) {
		j := (i * 7919) % len(c.Services)
		s := c.Services[j].DeepCopy()
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		} else {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
		c.Services[j] = s
		v.SetService(s)
	}},
	// One endpoint of a Service turns not ready, or ready again.
	{"endpointslice", 500, func(c *Cluster, v *view.View, i int) {
		j := (i * 7919) % len(c.Slices)
		sl := c.Slices[j].DeepCopy()
		ec := &sl.Endpoints[i%10].Conditions
		ec.Ready = ptr.To(ec.Ready != nil && !*ec.Ready)
		c.Slices[j] = sl
		v.SetSlice(sl)
	}},
	// A kubelet heartbeat: the Node's status changes in nothing a plan
	// reads.
	{"node-heartbeat", 500, func(c *Cluster, v *view.View, i int) {
		j := otherNode(i)
		nd := c.Nodes[j].DeepCopy()
		nd.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Unix(int64(i), 0))
		c.Nodes[j] = nd
		v.SetNode(nd)
	}},
	// A node is relabelled in a way no advertisement selects on.
	{"node-label", 500, func(c *Cluster, v *view.View, i int) {
		j := otherNode(i)
		nd := c.Nodes[j].DeepCopy()
		nd.Labels["rack"] = fmt.Sprint(i)
		c.Nodes[j] = nd
		v.SetNode(nd)
	}},
	// A node turns NotReady, and the next change Ready again: half the
	// changes are a node leaving the candidates, half one joining, and
	// the cluster stays as it was (Rounds is even) instead of drifting
	// towards every node NotReady.
	{"node-ready", 100, func(c *Cluster, v *view.View, i int) {
		j := otherNode(i / 2)
		nd := c.Nodes[j].DeepCopy()
		rc := &nd.Status.Conditions[0]
		if rc.Status == corev1.ConditionTrue {
			rc.Status = corev1.ConditionFalse
		} else {
			rc.Status = corev1.ConditionTrue
		}
		c.Nodes[j] = nd
		v.SetNode(nd)
	}},
}
