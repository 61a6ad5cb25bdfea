package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
)

func pool(name string, addrs ...string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
}

// svcOpt changes a Service before it is created.
type svcOpt func(*corev1.Service)

func withLabels(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withAnnotation(k, v string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}

func dualStack(policy corev1.IPFamilyPolicy) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.IPFamilyPolicy = &policy
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	}
}

// lbService is an IPv4 LoadBalancer Service. (The test API server is
// IPv6-primary, so IPv4 is asked for explicitly.)
func lbService(ns, name string, opts ...svcOpt) *corev1.Service {
	single := corev1.IPFamilyPolicySingleStack
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			IPFamilyPolicy:                &single,
			IPFamilies:                    []corev1.IPFamily{corev1.IPv4Protocol},
			AllocateLoadBalancerNodePorts: ptr(false),
			Selector:                      map[string]string{"app": name},
			Ports:                         []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// ingressIPs returns the addresses in a Service's status.
func ingressIPs(s *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range s.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// waitFor polls cond every 50ms until it returns true or the timeout ends.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
}

// waitForIPs waits until the Service shows n addresses and returns it.
func (e *env) waitForIPs(ns, name string, n int) *corev1.Service {
	e.t.Helper()
	var svc corev1.Service
	waitFor(e.t, 30*time.Second, fmt.Sprintf("%d address(es) on service %s/%s", n, ns, name), func() (bool, error) {
		if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			return false, err
		}
		return len(ingressIPs(&svc)) == n, nil
	})
	return &svc
}

func (e *env) getService(ns, name string) *corev1.Service {
	e.t.Helper()
	var svc corev1.Service
	if err := e.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		e.t.Fatal(err)
	}
	return &svc
}

// update changes a Service, retrying when the controller's status write
// got there first.
func (e *env) update(ns, name string, edit func(*corev1.Service)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc := e.getService(ns, name)
		edit(svc)
		return e.c.Update(context.Background(), svc)
	})
	if err != nil {
		e.t.Fatalf("update service %s/%s: %v", ns, name, err)
	}
}

// events returns the events about an object with a reason, oldest first.
func (e *env) events(kind, ns, name, reason string) []corev1.Event {
	e.t.Helper()
	var list corev1.EventList
	if err := e.c.List(context.Background(), &list, client.InNamespace(eventNamespace(ns))); err != nil {
		e.t.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		o := ev.InvolvedObject
		if o.Kind == kind && o.Name == name && o.Namespace == ns && ev.Reason == reason {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Event) int { return a.FirstTimestamp.Compare(b.FirstTimestamp.Time) })
	return out
}

// eventNamespace: events about cluster-scoped objects go to "default".
func eventNamespace(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

// eventCount sums Count over events (the recorder folds repeats into one
// Event with a higher count).
func eventCount(evs []corev1.Event) int32 {
	var n int32
	for _, ev := range evs {
		if ev.Count == 0 {
			n++
		} else {
			n += ev.Count
		}
	}
	return n
}

func messages(evs []corev1.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s (x%d): %s", ev.Reason, ev.Count, ev.Message)
	}
	return b.String()
}

func (e *env) namespace(name string) {
	e.t.Helper()
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}
