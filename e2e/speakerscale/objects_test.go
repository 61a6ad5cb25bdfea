package speakerscale

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

const (
	namespace = "bench"
	l2Pool    = "l2"
	bgpPool   = "bgp"
)

func svcName(i int) string { return fmt.Sprintf("svc%05d", i) }

// poolOf: even Services are layer 2, odd ones BGP.
func poolOf(i int) string {
	if i%2 == 0 {
		return l2Pool
	}
	return bgpPool
}

// localAtStart: every tenth Service of each pool starts with
// externalTrafficPolicy Local.
func localAtStart(i int) bool { return (i/2)%10 == 0 }

// service is the i-th LoadBalancer Service: IPv6 (the documentation IPv4
// ranges hold too few addresses), from its pool, no node ports.
func service(i int) *corev1.Service {
	s := cluster.LoadBalancer(namespace, svcName(i), cluster.IPv6Only)
	s.Annotations = map[string]string{svcrequest.AnnotationAddressPool: poolOf(i)}
	s.Spec.Ports = s.Spec.Ports[:1] // http 80 -> 8080
	s.Spec.Ports[0].TargetPort = intstr.FromInt32(8080)
	if localAtStart(i) {
		cluster.Local(s)
	}
	return s
}

// slice is the i-th Service's EndpointSlice: 10 ready endpoints spread
// over the nodes, as viewtest.NewCluster spreads them.
func slice(i int, nodes []string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: svcName(i) + "-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: svcName(i), discoveryv1.LabelManagedBy: "e2e.ironlb.io"}},
		AddressType: discoveryv1.AddressTypeIPv6,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for e := range 10 {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{endpointAddr(i, e).String()},
			NodeName:   ptr.To(nodes[(i*7+e*13)%len(nodes)]),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return sl
}

// endpointAddr is the e-th endpoint of the i-th Service in the pods'
// documentation range 2001:db8:200::/48 (String gives the canonical form
// the API server insists on).
func endpointAddr(i, e int) netip.Addr {
	b := netip.MustParseAddr("2001:db8:200::").As16()
	binary.BigEndian.PutUint32(b[8:], uint32(i))
	binary.BigEndian.PutUint32(b[12:], uint32(e))
	return netip.AddrFrom16(b)
}

// createServices creates Services from..to-1 with their slices, with a
// few writers in parallel (the API server, not the client, is the limit).
func createServices(tb testing.TB, cl client.Client, from, to int, nodes []string) {
	tb.Helper()
	const writers = 8
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := cl.Create(ctx, service(i))
				if err == nil {
					err = cl.Create(ctx, slice(i, nodes))
				}
				cancel()
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("service %d: %w", i, err) })
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
}

// waitAddressed waits until n Services of the namespace have an address
// from the controller, or until running says a process it needs is gone.
func waitAddressed(tb testing.TB, cl client.Client, n int, timeout time.Duration, running func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var list corev1.ServiceList
		if err := cl.List(context.Background(), &list, client.InNamespace(namespace)); err != nil {
			tb.Fatal(err)
		}
		got := 0
		for _, s := range list.Items {
			if len(s.Status.LoadBalancer.Ingress) > 0 {
				got++
			}
		}
		if got == n {
			return
		}
		if err := running(); err != nil {
			tb.Fatal(err)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d Services have an address after %v", got, n, timeout)
		}
		time.Sleep(2 * time.Second)
	}
}
