package migrate_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// metallbConfig is a MetalLB configuration as a cluster running MetalLB
// holds it, in documentation ranges.
const metallbConfig = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: lan
  namespace: metallb-system
spec:
  addresses:
  - 203.0.113.0/24
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: reserved
  namespace: metallb-system
spec:
  addresses:
  - 198.51.100.0/28
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: lan
  namespace: metallb-system
`

// addressedByMetalLB is a Service as MetalLB left it: its annotations in
// MetalLB's older spelling, the address MetalLB wrote to its status, and
// the pool that address is in.
type addressedByMetalLB struct {
	name        string
	annotations map[string]string
	port        corev1.ServicePort
	ip, pool    string
}

// TestServicesKeepMetalLBsAddresses starts from the state MetalLB leaves
// behind (Services whose status.loadBalancer.ingress MetalLB filled, with
// metallb.universe.tf annotations, addresses IronLB would not pick for a new
// Service), converts and applies MetalLB's configuration with `ironlbctl
// migrate --apply`, then starts IronLB's controller and speakers: every
// Service keeps its address from the first status IronLB writes on (a watch
// sees no other), IronLB records the pool and announces the address, and
// new Services are served by the same annotations.
func TestServicesKeepMetalLBsAddresses(t *testing.T) {
	api := kubeapi.Start(t, kubeapi.Options{})
	admin := api.Client(t, cluster.Scheme())
	ctx := context.Background()
	// The port names are those of the harness's EndpointSlices ("http" and
	// "udp"): an endpoint counts for a Service port of the same name.
	tcp := func(p int32) corev1.ServicePort {
		return corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: p, TargetPort: intstr.FromInt32(p)}
	}
	udp := corev1.ServicePort{Name: "udp", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53)}
	before := []addressedByMetalLB{
		{name: "web", port: tcp(80), ip: "203.0.113.77", pool: "lan"},
		{name: "web0", port: tcp(80), ip: "203.0.113.0", pool: "lan"}, // the pool's first address
		{name: "dns-tcp", port: tcp(53), ip: "203.0.113.53", pool: "lan",
			annotations: map[string]string{"metallb.universe.tf/allow-shared-ip": "dns"}},
		{name: "dns-udp", port: udp, ip: "203.0.113.53", pool: "lan",
			annotations: map[string]string{"metallb.universe.tf/allow-shared-ip": "dns"}},
		{name: "reserved", port: tcp(443), ip: "198.51.100.5", pool: "reserved",
			annotations: map[string]string{"metallb.universe.tf/address-pool": "reserved"}},
		{name: "pinned", port: tcp(8443), ip: "203.0.113.200", pool: "lan",
			annotations: map[string]string{"metallb.universe.tf/loadBalancerIPs": "203.0.113.200"}},
	}
	for _, b := range before {
		svc := cluster.LoadBalancer("default", b.name, func(s *corev1.Service) {
			s.Annotations = map[string]string{"metallb.universe.tf/ip-allocated-from-pool": b.pool}
			for k, v := range b.annotations {
				s.Annotations[k] = v
			}
			s.Spec.Ports = []corev1.ServicePort{b.port}
		})
		if err := admin.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: b.ip}} // as MetalLB writes it
		if err := admin.Status().Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}

	file := filepath.Join(t.TempDir(), "metallb.yaml")
	if err := os.WriteFile(file, []byte(metallbConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	res := migrateApply(t, api, file)
	// Created during the switch, while no controller runs, and sorted
	// before the others: a Service that wants any address (the pool's
	// first is web0's) and one that asks for reserved's. IronLB's
	// controller rebuilds the allocations from the Services' status before
	// it serves either, so neither takes an address MetalLB handed out.
	for _, svc := range []*corev1.Service{
		cluster.LoadBalancer("default", "aaa-new"),
		cluster.LoadBalancer("default", "aaa-claims", func(s *corev1.Service) {
			s.Annotations = map[string]string{"metallb.universe.tf/loadBalancerIPs": "198.51.100.5"}
		}),
	} {
		if err := admin.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	seen := watchAddresses(t, api)

	c := cluster.Start(t, cluster.Options{API: api, Nodes: 2})
	waitAllValid(t, c.Client, res)
	for _, b := range before {
		cluster.Eventually(t, 30*time.Second, fmt.Sprintf("IronLB to adopt default/%s at %s", b.name, b.ip), func() error {
			var svc corev1.Service
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: b.name}, &svc); err != nil {
				return err
			}
			if got := svc.Annotations["ironlb.io/ip-allocated-from-pool"]; got != b.pool {
				return fmt.Errorf("ironlb.io/ip-allocated-from-pool %q, want %q; status %v", got, b.pool, svc.Status.LoadBalancer.Ingress)
			}
			if in := svc.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != b.ip {
				return fmt.Errorf("status %v, want %s", in, b.ip)
			}
			return nil
		})
	}

	// IronLB's speakers announce what MetalLB's did, at the same addresses.
	for i, b := range before {
		c.SetEndpoints(t, "default", b.name, cluster.Endpoint{
			Node: c.Lab.Nodes[i%len(c.Lab.Nodes)].Name, Addr: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 20+i)), Ready: true})
	}
	for _, b := range before {
		c.WaitForAnnouncer(t, "default", b.name, netip.MustParseAddr(b.ip), func(string) bool { return true })
	}

	if got := c.WaitForIPs(t, "default", "aaa-new", 1)[0].String(); got != "203.0.113.1" {
		t.Errorf("aaa-new got %s, want 203.0.113.1, the first address MetalLB had not handed out", got)
	}
	cluster.Eventually(t, 10*time.Second, "aaa-claims to be refused the address default/reserved holds", func() error {
		if msgs := eventMessages(t, c, "default", "aaa-claims", "AllocationFailed"); !strings.Contains(msgs, "default/reserved") {
			return fmt.Errorf("AllocationFailed events %q", msgs)
		}
		return nil
	})
	if got := seen.sets("aaa-claims"); !slices.Equal(got, []string{""}) {
		t.Errorf("aaa-claims showed %q, want no address", got)
	}

	// New Services after the switch: the older spelling still picks the
	// pool, and when both of MetalLB's spellings differ, metallb.io wins and
	// the event names the ignored one.
	c.Create(t, cluster.LoadBalancer("default", "new-reserved", func(s *corev1.Service) {
		s.Annotations = map[string]string{"metallb.universe.tf/address-pool": "reserved"}
	}), cluster.LoadBalancer("default", "new-both", func(s *corev1.Service) {
		s.Annotations = map[string]string{"metallb.io/address-pool": "lan", "metallb.universe.tf/address-pool": "reserved"}
	}))
	if got := c.WaitForIPs(t, "default", "new-reserved", 1)[0].String(); got != "198.51.100.0" {
		t.Errorf("new-reserved got %s, want 198.51.100.0 from pool reserved", got)
	}
	if got := c.WaitForIPs(t, "default", "new-both", 1)[0].String(); got != "203.0.113.2" { // .0 web0, .1 aaa-new
		t.Errorf("new-both got %s, want 203.0.113.2 from pool lan", got)
	}
	cluster.Eventually(t, 10*time.Second, "a DeprecatedAnnotation event naming both spellings on new-both", func() error {
		want := `annotation metallb.universe.tf/address-pool ("reserved") is ignored because metallb.io/address-pool ("lan") is set`
		if msgs := eventMessages(t, c, "default", "new-both", "DeprecatedAnnotation"); !strings.Contains(msgs, want) {
			return fmt.Errorf("events %q", msgs)
		}
		return nil
	})

	for _, b := range before {
		if got := seen.sets(b.name); !slices.Equal(got, []string{b.ip}) {
			t.Errorf("default/%s showed the addresses %q over the switch, want only %s", b.name, got, b.ip)
		}
		if msgs := eventMessages(t, c, "default", b.name, "IPReleased"); msgs != "" {
			t.Errorf("default/%s: IPReleased events: %s", b.name, msgs)
		}
		if b.annotations != nil {
			if msgs := eventMessages(t, c, "default", b.name, "DeprecatedAnnotation"); !strings.Contains(msgs, "metallb.universe.tf/") {
				t.Errorf("default/%s: no DeprecatedAnnotation event naming its metallb.universe.tf annotation: %q", b.name, msgs)
			}
		}
	}
	if err := seen.err(); err != nil {
		t.Fatalf("the Service watch ended early, so the check above saw only part of the switch: %v", err)
	}
}

// addressLog records every distinct address list each Service showed.
type addressLog struct {
	mu    sync.Mutex
	seen  map[string][]string
	ended error
}

func (l *addressLog) sets(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen[name])
}

func (l *addressLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// watchAddresses watches the Services of namespace default from now to
// the end of the test. The retry watcher resumes after an error from the
// last event it delivered, so no change is missed.
func watchAddresses(t *testing.T, api *kubeapi.Server) *addressLog {
	cs := api.Clientset(t)
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Services("default").Watch(ctx, o)
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l := &addressLog{seen: map[string][]string{}}
	record := func(s *corev1.Service) {
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		key := strings.Join(ips, ",")
		l.mu.Lock()
		if prev := l.seen[s.Name]; len(prev) == 0 || prev[len(prev)-1] != key {
			l.seen[s.Name] = append(prev, key)
		}
		l.mu.Unlock()
	}
	for i := range list.Items {
		record(&list.Items[i])
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if s, ok := ev.Object.(*corev1.Service); ok && ev.Type != watch.Deleted {
				record(s)
			}
		}
		l.mu.Lock()
		if ctx.Err() == nil {
			l.ended = fmt.Errorf("the watch channel closed")
		}
		l.mu.Unlock()
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return l
}
