package l2sync

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
)

// benchWorld is a speaker's view and layer 2 tracker over n Services with
// 10 endpoints each on 100 nodes, every tenth Service Local.
type benchWorld struct {
	v      *view.View
	c      *view.Consumer
	tr     *l2plan.Tracker
	svcs   []*corev1.Service
	slices []*discoveryv1.EndpointSlice
	nodes  []*corev1.Node
	cfg    *config.Config
	alive  []string
}

func newBenchWorld(b *testing.B, n int) *benchWorld {
	cfg, errs := config.Compile(config.Resources{
		Pools:            []v1beta1.IPAddressPool{{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"2001:db8:300::/112"}}}},
		L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"l2"}}}},
	})
	if errs != nil {
		b.Fatal(errs)
	}
	w := &benchWorld{v: view.New(), tr: l2plan.NewTracker(), cfg: cfg}
	w.c = w.v.Consumer(func() {})
	for i := range 100 {
		nd := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node%03d", i), Labels: map[string]string{"zone": "a"}}}
		nd.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		w.nodes = append(w.nodes, nd)
		w.alive = append(w.alive, nd.Name)
		w.v.SetNode(nd)
	}
	for i := range n {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("svc%05d", i), Annotations: map[string]string{"ironlb.io/ip-allocated-from-pool": "l2"}},
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
				NodeName:   ptr.To(w.nodes[(i*7+e*13)%100].Name),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			})
		}
		w.svcs = append(w.svcs, svc)
		w.slices = append(w.slices, sl)
		w.v.SetService(svc)
		w.v.SetSlice(sl)
	}
	w.sync()
	return w
}

// sync is what a layer 2 wake does with the view: apply its changes and
// re-elect.
func (w *benchWorld) sync() int {
	Apply(w.tr, w.v.Changes(w.c))
	w.tr.SetConfig(w.cfg)
	w.tr.SetAlive(w.alive)
	_, changed := w.tr.Update()
	return len(changed)
}

// change is one kind of event, applied for the i-th time.
type change struct {
	name   string
	rounds int // changes per measurement
	do     func(w *benchWorld, i int)
}

var changes = []change{
	// A Service's externalTrafficPolicy flips: its IP's candidates change
	// from every node to the nodes with its endpoints, or back.
	{"service", 500, func(w *benchWorld, i int) {
		s := w.svcs[(i*7919)%len(w.svcs)].DeepCopy()
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		} else {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
		w.svcs[(i*7919)%len(w.svcs)] = s
		w.v.SetService(s)
	}},
	// One endpoint of a Service turns not ready, or ready again.
	{"endpointslice", 500, func(w *benchWorld, i int) {
		j := (i * 7919) % len(w.slices)
		sl := w.slices[j].DeepCopy()
		c := &sl.Endpoints[i%10].Conditions
		c.Ready = ptr.To(c.Ready != nil && !*c.Ready)
		w.slices[j] = sl
		w.v.SetSlice(sl)
	}},
	// A kubelet heartbeat: the Node's status changes in nothing the plan
	// reads.
	{"node-heartbeat", 500, func(w *benchWorld, i int) {
		j := i % len(w.nodes)
		nd := w.nodes[j].DeepCopy()
		nd.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Unix(int64(i), 0))
		w.nodes[j] = nd
		w.v.SetNode(nd)
	}},
	// A node is relabelled in a way no advertisement selects on.
	{"node-label", 500, func(w *benchWorld, i int) {
		j := i % len(w.nodes)
		nd := w.nodes[j].DeepCopy()
		nd.Labels["rack"] = fmt.Sprint(i)
		w.nodes[j] = nd
		w.v.SetNode(nd)
	}},
	// A node turns NotReady, or Ready again: it leaves or joins the
	// candidates of every Cluster IP, so those are all elected again (the
	// owners that move are only its own, but every decision is checked).
	{"node-ready", 20, func(w *benchWorld, i int) {
		j := (i * 37) % len(w.nodes)
		nd := w.nodes[j].DeepCopy()
		c := &nd.Status.Conditions[0]
		if c.Status == corev1.ConditionTrue {
			c.Status = corev1.ConditionFalse
		} else {
			c.Status = corev1.ConditionTrue
		}
		w.nodes[j] = nd
		w.v.SetNode(nd)
	}},
}

// cpuTime is the CPU time the process has used (user and system, all
// threads, the garbage collector's included): on a shared machine, wall
// time per change measures the neighbours more than the speaker.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLayer2Change measures a speaker's layer 2 work for one change
// (view update, plan update and election) with 1,000 and 10,000 Services of
// 10 endpoints on 100 nodes, and reports per kind of change the CPU µs at
// each size and their ratio 10,000 / 1,000 (flat is 1). Status writes and
// ARP/NDP are not included.
func BenchmarkLayer2Change(b *testing.B) {
	small, large := newBenchWorld(b, 1000), newBenchWorld(b, 10000)
	total := map[string][2]time.Duration{}
	n := 0
	for b.Loop() {
		for _, ch := range changes {
			t := total[ch.name]
			for k, w := range []*benchWorld{small, large} {
				runtime.GC() // the setup's and the other size's garbage is not this change's
				start := cpuTime()
				for i := range ch.rounds {
					ch.do(w, n*ch.rounds+i)
					w.sync()
				}
				t[k] += cpuTime() - start
			}
			total[ch.name] = t
		}
		n++
	}
	for _, ch := range changes {
		t := total[ch.name]
		us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n*ch.rounds) }
		b.ReportMetric(us(t[0]), ch.name+"-1k-cpu-us")
		b.ReportMetric(us(t[1]), ch.name+"-10k-cpu-us")
		b.ReportMetric(float64(t[1])/float64(max(t[0], 1)), ch.name+"-ratio")
	}
}

// BenchmarkLayer2FromScratch is what every wake cost before the view: list
// everything, condense every Service, elect every IP (the listing's copies
// from the cache not included). Compare with BenchmarkLayer2Change.
func BenchmarkLayer2FromScratch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		w := newBenchWorld(b, n)
		var ns []l2plan.Node
		for _, nd := range w.nodes {
			ns = append(ns, l2plan.NodeFrom(nd))
		}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			runtime.GC()
			start, runs := cpuTime(), 0
			for b.Loop() {
				plan := l2plan.Compute(w.cfg, lbstate.Build(w.svcs, w.slices), ns, w.alive)
				if len(plan.Owners) != n {
					b.Fatalf("%d owners, want %d", len(plan.Owners), n)
				}
				runs++
			}
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(runs), "cpu-us/plan")
		})
	}
}
