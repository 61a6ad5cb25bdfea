package kubeapi

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkStart measures StartProcess from call to ready (etcd healthy,
// /readyz, default namespace and kubernetes Service present). Stop is not
// timed.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		s, err := StartProcess(context.Background(), Options{SkipCRDs: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkCreateLoadBalancerService is one client creating LoadBalancer
// Services one after another (ClusterIP and NodePort allocation included).
func BenchmarkCreateLoadBalancerService(b *testing.B) {
	s := Start(b, Options{SkipCRDs: true})
	cs := s.Clientset(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		svc := benchService(fmt.Sprintf("bench-%d", i))
		if _, err := cs.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateLoadBalancerServiceParallel is 8×GOMAXPROCS concurrent
// creators: the API server's throughput for Service creation on this
// machine. Each call starts a server, so run it with a fixed count, e.g.
// -benchtime=2000x.
func BenchmarkCreateLoadBalancerServiceParallel(b *testing.B) {
	s := Start(b, Options{SkipCRDs: true})
	cs := s.Clientset(b)
	var n atomic.Int64
	b.SetParallelism(8) // × GOMAXPROCS goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			svc := benchService(fmt.Sprintf("bench-%d", n.Add(1)))
			if _, err := cs.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "services/s")
}

func benchService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}
