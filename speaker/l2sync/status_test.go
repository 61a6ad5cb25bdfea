package l2sync

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/view"
)

// listCounter counts the lists of every ServiceL2Status (those not
// narrowed to one IP by the index).
type listCounter struct {
	client.Client
	fullLists atomic.Int64
}

func (c *listCounter) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	if _, ok := list.(*v1beta1.ServiceL2StatusList); ok && lo.FieldSelector == nil {
		c.fullLists.Add(1)
	}
	return c.Client.List(ctx, list, opts...)
}

// answeringAnnouncer stands for the layer 2 engine: every claim is
// announced at once on its interfaces.
type answeringAnnouncer struct {
	mu      sync.Mutex
	claims  []layer2.Claim
	sets    int // SetClaims calls
	version uint64
}

// bump stands for the engine publishing a new state (a phase change).
func (a *answeringAnnouncer) bump() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version++
}

func (a *answeringAnnouncer) Version() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.version
}

func (a *answeringAnnouncer) SetClaims(c []layer2.Claim) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.claims = slices.Clone(c)
	a.sets++
	a.version++
	return nil
}

func (a *answeringAnnouncer) setCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sets
}

func (a *answeringAnnouncer) State() []layer2.Announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]layer2.Announcement, 0, len(a.claims))
	for _, c := range a.claims {
		an := layer2.Announcement{IP: c.IP}
		for _, i := range c.Interfaces {
			an.Interfaces = append(an.Interfaces, layer2.InterfaceState{Name: i, Phase: layer2.PhaseAnnounced})
		}
		out = append(out, an)
	}
	return out
}

// Against a real API server and the speaker's cache: after the first
// (full) pass has written every status, one change (a Service losing its
// endpoints, a status edited by hand) has the next pass compare and write
// the statuses of that one IP, without listing every status; the periodic
// full pass compares them all and repairs an edit whose watch event it
// never heard of.
func TestStatusPassTouchesOnlyTheChange(t *testing.T) {
	const services = 40
	api := kubeapi.Start(t, kubeapi.Options{})
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1beta1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c := api.Client(t, scheme)
	ctx := context.Background()

	for _, name := range []string{"node-a", "node-b"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if err := c.Status().Update(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}); err != nil {
		t.Fatal(err)
	}
	ipOf := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i)}) }
	for i := range services {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("svc%d", i),
				Annotations: map[string]string{svcrequest.AnnotationIPAllocatedFromPool: "l2"}},
			// Local: each IP's only candidate is the node of its endpoint, so a
			// change of one IP moves no other.
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		}
		if err := c.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ipOf(i).String()}}
		if err := c.Status().Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: svc.Name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}, NodeName: ptr.To([]string{"node-a", "node-b"}[i%2]),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		}
		if err := c.Create(ctx, sl); err != nil {
			t.Fatal(err)
		}
	}
	cfg, errs := config.Compile(config.Resources{
		Pools:            []v1beta1.IPAddressPool{{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/24"}}}},
		L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"l2"}}}},
	})
	if errs != nil {
		t.Fatal(errs)
	}

	mgr := api.Manager(t, scheme)
	statuses, err := registerStatusStore(ctx, mgr.GetCache())
	if err != nil {
		t.Fatal(err)
	}
	v := view.New()
	if err := v.Register(ctx, mgr.GetCache()); err != nil {
		t.Fatal(err)
	}
	lc := &listCounter{Client: mgr.GetClient()}
	ann := &answeringAnnouncer{}
	s := &Syncer{
		Client: lc, Recorder: mgr.GetEventRecorderFor("test"), Log: logr.Discard(), Node: "node-a",
		Config: func() *config.Config { return cfg }, Alive: func() []string { return []string{"node-a", "node-b"} },
		Ready: func() bool { return true }, Announcer: ann,
		Interfaces: func() ([]Iface, error) {
			return []Iface{{Name: "eth0", Up: true, Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.254/24")}}}, nil
		},
		View: v, statuses: statuses,
	}
	s.consumer = v.Consumer(func() {})
	kubeapi.StartManager(t, mgr)
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache not synced")
	}

	// cached lists the statuses as the cache sees them once it holds want
	// of them.
	cached := func(step string, want int, ok func(map[netip.Addr]v1beta1.ServiceL2StatusStatus) bool) map[netip.Addr]v1beta1.ServiceL2StatusStatus {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var l v1beta1.ServiceL2StatusList
			if err := mgr.GetClient().List(ctx, &l); err != nil {
				t.Fatal(err)
			}
			got := map[netip.Addr]v1beta1.ServiceL2StatusStatus{}
			for _, o := range l.Items {
				got[netip.MustParseAddr(o.Status.IP)] = o.Status
			}
			if len(got) == want && ok(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: statuses %v, want %d", step, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	everything := func(map[netip.Addr]v1beta1.ServiceL2StatusStatus) bool { return true }
	pass := func(step string) statusPassStats {
		t.Helper()
		if _, err := (statusReconciler{s}).Reconcile(ctx, statusKey); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.statusDirty) != 0 || s.statusFull {
			t.Fatalf("%s: the pass failed: %d IPs left to write", step, len(s.statusDirty))
		}
		return s.lastPass
	}

	// untilUnannounced wakes the syncer until its plan has ip unannounced.
	untilUnannounced := func(ip netip.Addr) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := s.Reconcile(ctx, Key); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			_, gone := s.plan.Unannounced[ip]
			s.mu.Unlock()
			if gone {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never became unannounced", ip)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The first wake sees every Service; the first pass is a full one and
	// writes the status of node-a's IPs (node-b writes its own, not
	// here).
	for !v.Synced() || len(ann.State()) == 0 {
		if _, err := s.Reconcile(ctx, Key); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mine := len(ann.State())
	if mine != services/2 {
		t.Fatalf("node-a claims %d IPs, want the %d of its endpoints", mine, services/2)
	}
	first := pass("first")
	if !first.Full || first.Written != mine || first.Signed != mine {
		t.Fatalf("first pass %+v, want a full one signing the %d claims of node-a and writing their statuses", first, mine)
	}
	before := cached("first", mine, everything)

	// One of node-a's Services loses its endpoints: its IP is
	// unannounced, and the status writer (node-a) says why. The pass
	// decides that one IP, compares its one object and rewrites it.
	var lost netip.Addr
	for ip := range before {
		lost = ip
		break
	}
	idx := int(lost.As4()[3]) - 1
	var sl discoveryv1.EndpointSlice
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: fmt.Sprintf("svc%d-1", idx)}, &sl); err != nil {
		t.Fatal(err)
	}
	sl.Endpoints = nil
	if err := c.Update(ctx, &sl); err != nil {
		t.Fatal(err)
	}
	untilUnannounced(lost)
	lists := lc.fullLists.Load()
	// node-a's claims changed: the pass signs them again.
	got := pass("endpoints lost")
	want := statusPassStats{IPs: 1, Compared: 1, Written: 1, Signed: mine - 1}
	if got != want || lc.fullLists.Load() != lists {
		t.Fatalf("endpoints lost: pass %+v with %d lists of every status, want %+v and none", got, lc.fullLists.Load()-lists, want)
	}
	cached("endpoints lost", mine, func(m map[netip.Addr]v1beta1.ServiceL2StatusStatus) bool {
		return m[lost].Reason != "" && m[lost].Node == ""
	})

	// A status edited by hand: its watch event marks its IP, and the next
	// pass writes it back, touching nothing else.
	var edited netip.Addr
	for ip, st := range before {
		if ip != lost && st.Node == "node-a" {
			edited = ip
			break
		}
	}
	edit := func() *v1beta1.ServiceL2Status {
		t.Helper()
		var o v1beta1.ServiceL2Status
		if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: StatusName(fmt.Sprintf("svc%d", int(edited.As4()[3])-1), edited)}, &o); err != nil {
			t.Fatal(err)
		}
		o.Status.Node = "intruder"
		if err := c.Update(ctx, &o); err != nil {
			t.Fatal(err)
		}
		cached("edited", mine, func(m map[netip.Addr]v1beta1.ServiceL2StatusStatus) bool { return m[edited].Node == "intruder" })
		return &o
	}
	s.statusObjectChanged(edit()) // what the watch handler does with its event
	got = pass("edited")
	want.Signed = 0 // nothing of node-a's claims changed: no claim is signed
	if got != want || lc.fullLists.Load() != lists {
		t.Fatalf("edited: pass %+v with %d lists of every status, want %+v and none", got, lc.fullLists.Load()-lists, want)
	}
	cached("edited", mine, func(m map[netip.Addr]v1beta1.ServiceL2StatusStatus) bool { return m[edited].Node == "node-a" })

	// An edit whose event went missing is left until the full pass, which
	// compares every status and writes that one back.
	edit()
	if got := pass("edit unheard"); got != (statusPassStats{}) {
		t.Fatalf("edit unheard: pass %+v, want one that touches nothing", got)
	}
	s.nextFull = time.Now()
	got = pass("full")
	if !got.Full || got.Compared != mine || got.Written != 1 || got.Deleted != 0 || got.Signed != mine-1 || lc.fullLists.Load() != lists+1 {
		t.Fatalf("full pass %+v with %d lists of every status, want one comparing all %d statuses, writing 1, with 1 list", got, lc.fullLists.Load()-lists, mine)
	}
	cached("repaired", mine, func(m map[netip.Addr]v1beta1.ServiceL2StatusStatus) bool { return m[edited].Node == "node-a" })

	// One of node-b's Services loses its endpoints: node-a's plan takes
	// the change (as the status writer it writes why the IP is
	// unannounced), but its own claims did not change, so the announcer
	// is not handed them again.
	other := ipOf(1) // svc1's endpoint is on node-b
	if _, ok := before[other]; ok {
		t.Fatalf("%s is node-a's, want one of node-b's", other)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "svc1-1"}, &sl); err != nil {
		t.Fatal(err)
	}
	sl.Endpoints = nil
	if err := c.Update(ctx, &sl); err != nil {
		t.Fatal(err)
	}
	sets := ann.setCalls()
	untilUnannounced(other)
	if got := ann.setCalls() - sets; got != 0 {
		t.Errorf("another node's IP changed: claims handed to the announcer %d times, want 0", got)
	}
	if got := len(ann.State()); got != mine-1 {
		t.Errorf("node-a claims %d IPs after another node's change, want %d", got, mine-1)
	}
	// As the status writer node-a writes why that IP is unannounced; its
	// own claims are not signed again.
	if got := pass("another node's change"); got.IPs != 1 || got.Written != 1 || got.Signed != 0 {
		t.Errorf("another node's change: pass %+v, want one deciding and writing its IP and signing no claim", got)
	}
	// A verdict of the reachability check changed, or the layer 2 engine's
	// state: the claims are signed again (nothing of them differs here, so
	// nothing is written), and then not again until the next change.
	for _, change := range []struct {
		name string
		make func()
	}{{"verdict", s.StatusChanged}, {"engine state", ann.bump}} {
		change.make()
		if got := pass(change.name); got.Signed != mine-1 || got.Written != 0 {
			t.Errorf("%s changed: pass %+v, want one signing the %d claims and writing nothing", change.name, got, mine-1)
		}
		if got := pass(change.name + ", then nothing"); got != (statusPassStats{}) {
			t.Errorf("after the %s change: pass %+v, want one that touches nothing", change.name, got)
		}
	}

	// One of node-a's Services moves to another IP. No Service of the old
	// IP names its status object any more: the pass finds it by the IP
	// its status names alone, and deletes it; the new IP's is written.
	var moved netip.Addr
	for ip, st := range before {
		if ip != lost && ip != edited && st.Node == "node-a" {
			moved = ip
			break
		}
	}
	to := netip.MustParseAddr("203.0.113.200")
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: fmt.Sprintf("svc%d", int(moved.As4()[3])-1)}, &svc); err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: to.String()}}
	if err := c.Status().Update(ctx, &svc); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := s.Reconcile(ctx, Key); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		_, stays := s.plan.Owners[moved]
		_, came := s.plan.Owners[to]
		s.mu.Unlock()
		if !stays && came {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plan never moved %s to %s", moved, to)
		}
	}
	lists = lc.fullLists.Load()
	got = pass("moved")
	if got.Full || got.Deleted != 1 || got.Written < 1 || lc.fullLists.Load() != lists {
		t.Fatalf("moved: pass %+v with %d lists of every status, want a partial one deleting 1 and writing the new IP's, with none", got, lc.fullLists.Load()-lists)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var l v1beta1.ServiceL2StatusList
		if err := mgr.GetClient().List(ctx, &l); err != nil {
			t.Fatal(err)
		}
		old, now := false, ""
		for _, o := range l.Items {
			old = old || o.Status.IP == moved.String()
			if o.Status.IP == to.String() {
				now = o.Status.Node
			}
		}
		if !old && now == "node-a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moved: the status of %s is still there (%v) or that of %s is not node-a's (%q)", moved, old, to, now)
		}
	}
}
