package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2sync"
)

// Create creates objects, failing the test on error.
func (c *Cluster) Create(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// Pool is an IPAddressPool.
func Pool(name string, addrs ...string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
}

// L2 is an L2Advertisement of pools on interfaces (none: automatic).
func L2(name string, pools []string, ifaces ...string) *v1beta1.L2Advertisement {
	return &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: pools, Interfaces: ifaces}}
}

// ServiceOpt changes a Service before it is created.
type ServiceOpt func(*corev1.Service)

// DualStack asks for both families.
func DualStack(s *corev1.Service) {
	p := corev1.IPFamilyPolicyRequireDualStack
	s.Spec.IPFamilyPolicy = &p
	s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
}

// IPv6Only asks for IPv6.
func IPv6Only(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }

// Local sets externalTrafficPolicy: Local.
func Local(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

// RequestIP asks for specific addresses.
func RequestIP(ips ...string) ServiceOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations["ironlb.io/loadBalancerIPs"] = strings.Join(ips, ",")
	}
}

// LoadBalancer is an IPv4 LoadBalancer Service selecting app=<name> on
// port 80 -> 8080 (TCP). The test API server is IPv6-primary, so IPv4 is
// asked for explicitly.
func LoadBalancer(ns, name string, opts ...ServiceOpt) *corev1.Service {
	single := corev1.IPFamilyPolicySingleStack
	no := false
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			IPFamilyPolicy:                &single,
			IPFamilies:                    []corev1.IPFamily{corev1.IPv4Protocol},
			AllocateLoadBalancerNodePorts: &no,
			Selector:                      map[string]string{"app": name},
			Ports: []corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "udp", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353)},
			},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// WaitForIPs waits up to 30 s until a Service shows n addresses and
// returns them.
func (c *Cluster) WaitForIPs(t testing.TB, ns, name string, n int) []netip.Addr {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ips, err := c.AwaitIPs(ctx, ns, name, n)
	if err != nil {
		t.Fatal(err)
	}
	return ips
}

// Endpoint is one backend of a Service.
type Endpoint struct {
	Node  string
	Addr  netip.Addr
	Ready bool
	// Terminating marks an endpoint of a pod being deleted (serving while
	// Ready is true... as the EndpointSlice controller writes it).
	Terminating bool
	// ForZones: topology hints (hints.forZones), as the EndpointSlice
	// controller writes them for trafficDistribution PreferClose.
	ForZones []string
}

// SetEndpoints is ApplyEndpoints for tests.
func (c *Cluster) SetEndpoints(t testing.TB, ns, svc string, eps ...Endpoint) {
	t.Helper()
	if err := c.ApplyEndpoints(context.Background(), ns, svc, eps...); err != nil {
		t.Fatal(err)
	}
}

// L2Status returns the ServiceL2Status of one Service IP, or nil.
func (c *Cluster) L2Status(t testing.TB, ns, svc string, ip netip.Addr) *v1beta1.ServiceL2Status {
	t.Helper()
	var st v1beta1.ServiceL2Status
	name := l2sync.StatusName(svc, ip)
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &st); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatalf("get ServiceL2Status %s/%s: %v", ns, name, err)
	}
	return &st
}

// WaitForAnnouncer waits until the status of a Service IP names a node
// satisfying accept, and returns it.
func (c *Cluster) WaitForAnnouncer(t testing.TB, ns, svc string, ip netip.Addr, accept func(node string) bool) string {
	t.Helper()
	var node string
	Eventually(t, 30*time.Second, fmt.Sprintf("an announcing node for %s of %s/%s", ip, ns, svc), func() error {
		st := c.L2Status(t, ns, svc, ip)
		if st == nil {
			return fmt.Errorf("no ServiceL2Status yet")
		}
		if st.Status.Node == "" || !accept(st.Status.Node) {
			return fmt.Errorf("status: node %q, reason %q", st.Status.Node, st.Status.Reason)
		}
		node = st.Status.Node
		return nil
	})
	return node
}

// Events lists the events about an object with a reason.
func (c *Cluster) Events(t testing.TB, kind, ns, name, reason string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	evNS := ns
	if evNS == "" {
		evNS = metav1.NamespaceDefault
	}
	if err := c.Client.List(context.Background(), &list, client.InNamespace(evNS)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		o := ev.InvolvedObject
		if o.Kind == kind && o.Name == name && o.Namespace == ns && ev.Reason == reason {
			out = append(out, ev)
		}
	}
	return out
}

// Eventually retries f every 50 ms until it returns nil or the timeout ends.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
}

func ptr[T any](v T) *T { return &v }
