package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// churnNS holds the Services the churn creates and deletes.
const churnNS = "soak"

// Bounds of the churn: the number of its Services stays between
// minServices and maxServices, so memory that follows the number of
// objects stays level; at most maxPools extra pools exist at a time, each
// with at most perPool of the Services.
const (
	minServices = 8
	maxServices = 30
	maxPools    = 3
	perPool     = 6
)

type churnSvc struct {
	name, pool string
}

// churner changes Services, endpoints and pools at random. Only its own
// goroutine calls step; counts may be read at any time.
type churner struct {
	c       *cluster.Cluster
	rng     *rand.Rand
	pods    []*cluster.Pod
	traffic []string // Services in "default" under traffic: endpoints change, never fewer than two pods
	svcs    []churnSvc
	pools   []string
	next    int // names Services and pools, never reused
	// blocks are the IPv4 ranges the churn's pools cycle through: free
	// /28s of the LAN (see freeBlocks).
	blocks []netip.Prefix
	// logf logs the endpoint changes of the Services under traffic, to
	// match failed requests with them.
	logf func(format string, args ...any)

	mu      sync.Mutex
	ops     map[string]int
	errs    int
	lastErr error
	// moved is when each Service under traffic was given another set of
	// pods: a request in flight then, or sent while the announcements
	// follow, may fail without any fault (see movedNear).
	moved map[string][]time.Time
}

func newChurner(c *cluster.Cluster, rng *rand.Rand, pods []*cluster.Pod, traffic []string, logf func(string, ...any)) *churner {
	var hosts []netip.Addr
	for _, h := range c.Lab.Hosts() {
		hosts = append(hosts, h.IPv4.Addr())
	}
	blocks := freeBlocks(netip.MustParsePrefix(vlan.LANv4), hosts)
	logf("churn pools cycle through %v", blocks)
	return &churner{c: c, rng: rng, pods: pods, traffic: traffic, ops: map[string]int{}, moved: map[string][]time.Time{}, logf: logf, blocks: blocks}
}

// run steps every 0.5 to 2 s until ctx is done.
func (ch *churner) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(500+ch.rng.IntN(1500)) * time.Millisecond):
		}
		op, err := ch.step(ctx)
		ch.mu.Lock()
		ch.ops[op]++
		if err != nil && ctx.Err() == nil {
			ch.errs++
			ch.lastErr = fmt.Errorf("%s: %w", op, err)
		}
		ch.mu.Unlock()
	}
}

// counts returns the operations done by kind, and the errors.
func (ch *churner) counts() (map[string]int, int, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	m := map[string]int{}
	for k, v := range ch.ops {
		m[k] = v
	}
	return m, ch.errs, ch.lastErr
}

// step picks one operation, weighted, among those the bounds allow.
func (ch *churner) step(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	type op struct {
		name   string
		weight int
		do     func(context.Context) error
	}
	var ops []op
	if len(ch.svcs) < maxServices {
		ops = append(ops, op{"service-create", 30, ch.create})
	}
	if len(ch.svcs) > minServices {
		ops = append(ops, op{"service-delete", 20, ch.delete})
	}
	if len(ch.svcs) > 0 {
		ops = append(ops, op{"service-update", 20, ch.update})
	}
	ops = append(ops, op{"endpoints", 30, ch.endpoints})
	if len(ch.pools) < maxPools {
		ops = append(ops, op{"pool-add", 3, ch.addPool})
	}
	if len(ch.pools) > 0 {
		ops = append(ops, op{"pool-remove", 3, ch.removePool})
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	n := ch.rng.IntN(total)
	for _, o := range ops {
		if n < o.weight {
			return o.name, o.do(ctx)
		}
		n -= o.weight
	}
	panic("unreachable: weights cover every draw")
}

func (ch *churner) create(ctx context.Context) error {
	pools := []string{"lan", "bgp"}
	for _, p := range ch.pools {
		if ch.inPool(p) < perPool {
			pools = append(pools, p)
		}
	}
	pool := pools[ch.rng.IntN(len(pools))]
	ch.next++
	name := fmt.Sprintf("s-%05d", ch.next)
	opts := []cluster.ServiceOpt{func(s *corev1.Service) {
		s.Annotations = map[string]string{svcrequest.AnnotationAddressPool: pool}
	}}
	switch ch.rng.IntN(3) {
	case 0:
		opts = append(opts, cluster.DualStack)
	case 1:
		opts = append(opts, cluster.IPv6Only)
	}
	if ch.rng.IntN(4) == 0 {
		opts = append(opts, cluster.Local)
	}
	err := ch.c.Client.Create(ctx, cluster.LoadBalancer(churnNS, name, opts...))
	// A create that timed out may still have happened: the Service is
	// tracked either way (a later delete of a Service that does not exist
	// is harmless).
	ch.svcs = append(ch.svcs, churnSvc{name: name, pool: pool})
	if err != nil {
		return err
	}
	return ch.c.ApplyEndpoints(ctx, churnNS, name, ch.somePods(0)...)
}

func (ch *churner) inPool(pool string) int {
	n := 0
	for _, s := range ch.svcs {
		if s.pool == pool {
			n++
		}
	}
	return n
}

func (ch *churner) delete(ctx context.Context) error {
	i := ch.rng.IntN(len(ch.svcs))
	// A Service whose delete failed (API server frozen, etcd down) stays
	// tracked, so a later turn deletes it and the number of Services
	// stays within the bounds.
	if err := ch.deleteService(ctx, ch.svcs[i].name); err != nil {
		return err
	}
	ch.svcs = slices.Delete(ch.svcs, i, i+1)
	return nil
}

// deleteService deletes a Service and its EndpointSlices (written by the
// churn, they have no owner to be collected with).
func (ch *churner) deleteService(ctx context.Context, name string) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: churnNS, Name: name}}
	if err := ch.c.Client.Delete(ctx, svc); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return ch.c.Client.DeleteAllOf(ctx, &discoveryv1.EndpointSlice{}, client.InNamespace(churnNS),
		client.MatchingLabels{discoveryv1.LabelServiceName: name})
}

// update changes what may change without moving an address: the traffic
// policy and a label.
func (ch *churner) update(ctx context.Context) error {
	s := ch.svcs[ch.rng.IntN(len(ch.svcs))]
	var svc corev1.Service
	if err := ch.c.Client.Get(ctx, client.ObjectKey{Namespace: churnNS, Name: s.name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // its create timed out and did not happen
		}
		return err
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		svc.Spec.HealthCheckNodePort = 0
	} else {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	svc.Labels["soak.ironlb.io/rev"] = fmt.Sprint(ch.rng.IntN(1000))
	return ch.c.Client.Update(ctx, &svc)
}

// endpoints gives a Service another set of pods: a churn Service any set
// (none too), a Service under traffic at least two of the three, so losing
// one node leaves it a pod.
func (ch *churner) endpoints(ctx context.Context) error {
	n := len(ch.svcs) + len(ch.traffic)
	i := ch.rng.IntN(n)
	if i < len(ch.svcs) {
		return ch.c.ApplyEndpoints(ctx, churnNS, ch.svcs[i].name, ch.somePods(0)...)
	}
	name, eps := ch.traffic[i-len(ch.svcs)], ch.somePods(2)
	ch.mu.Lock()
	ch.moved[name] = append(ch.moved[name], time.Now())
	ch.mu.Unlock()
	err := ch.c.ApplyEndpoints(ctx, "default", name, eps...)
	var nodes []string
	for _, e := range eps {
		if e.Addr.Is4() {
			nodes = append(nodes, e.Node)
		}
	}
	ch.logf("%s: endpoints of default/%s on %v (err %v)", time.Now().Format("15:04:05.000"), name, nodes, err)
	return err
}

// movedNear says whether Service name (under traffic) was given other
// pods while a request sent at at was in flight (its timeout, a second)
// or up to failureGrace before it was sent, while the nodes' announcements
// followed the endpoints: a Local Service's next hops or layer 2 owner
// move with its pods, and a connection open on a node that stops serving
// it is reset.
func (ch *churner) movedNear(name string, at time.Time) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, m := range ch.moved[name] {
		if !m.Before(at.Add(-failureGrace)) && !m.After(at.Add(time.Second)) {
			return true
		}
	}
	return false
}

// somePods is a random subset of at least min pods, as endpoints.
func (ch *churner) somePods(min int) []cluster.Endpoint {
	for {
		var pods []*cluster.Pod
		for _, p := range ch.pods {
			if ch.rng.IntN(2) == 0 {
				pods = append(pods, p)
			}
		}
		if len(pods) >= min {
			return cluster.Endpoints(pods...)
		}
	}
}

// addPool adds a pool of 16 IPv4 and 16 IPv6 addresses with a layer 2
// advertisement; the ranges cycle through the free blocks.
func (ch *churner) addPool(ctx context.Context) error {
	ch.next++
	name := fmt.Sprintf("soak-%05d", ch.next)
	block := ch.next % len(ch.blocks)
	pool := cluster.Pool(name, ch.blocks[block].String(), fmt.Sprintf("2001:db8:400:%x::/124", block))
	for _, p := range ch.pools {
		if ch.blockOf(p) == block {
			return nil // still in use by a live pool: skip this turn
		}
	}
	if err := ch.c.Client.Create(ctx, pool); err != nil {
		return err
	}
	ch.pools = append(ch.pools, name)
	return ch.c.Client.Create(ctx, cluster.L2(name, []string{name}, "eth0"))
}

func (ch *churner) blockOf(pool string) int {
	var n int
	fmt.Sscanf(pool, "soak-%d", &n)
	return n % len(ch.blocks)
}

// freeBlocks are the /28 blocks of the lab's LAN that hold no host's
// address (router, nodes, clients) and neither the LAN's network nor its
// broadcast address. A pool that hands out a host's own address breaks
// that host: every node with the datapath binds the VIP locally, so its
// BGP and BFD packets to the router (or replies to the client) go to
// itself, and sessions stay down until the Service goes.
func freeBlocks(lan netip.Prefix, hosts []netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	last := lastAddr(lan)
	for b := netip.PrefixFrom(lan.Addr(), 28); lan.Contains(b.Addr()); b = netip.PrefixFrom(lastAddr(b).Next(), 28) {
		free := !b.Contains(lan.Addr()) && !b.Contains(last)
		for _, h := range hosts {
			free = free && !b.Contains(h)
		}
		if free {
			out = append(out, b)
		}
		if !lastAddr(b).Next().IsValid() {
			break
		}
	}
	return out
}

// lastAddr is the highest address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// removePool deletes a pool's Services first (their addresses must not
// change, and a pool taken away takes them), then the pool and its
// advertisement.
func (ch *churner) removePool(ctx context.Context) error {
	i := ch.rng.IntN(len(ch.pools))
	name := ch.pools[i]
	var keep []churnSvc
	for _, s := range ch.svcs {
		if s.pool != name {
			keep = append(keep, s)
			continue
		}
		if err := ch.deleteService(ctx, s.name); err != nil {
			return err // the pool stays until a later try succeeds
		}
	}
	ch.svcs = keep
	if err := ch.c.Client.Delete(ctx, &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := ch.c.Client.Delete(ctx, &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	ch.pools = slices.Delete(ch.pools, i, i+1)
	return nil
}

// settle waits until every Service the churn holds shows its addresses
// (one per family it asked for) and returns those that do not, each given
// up to 30 s.
func (ch *churner) settle() []string {
	var missing []string
	for _, s := range ch.svcs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var svc corev1.Service
		err := ch.c.Client.Get(ctx, client.ObjectKey{Namespace: churnNS, Name: s.name}, &svc)
		if apierrors.IsNotFound(err) {
			continue // its create timed out and did not happen
		}
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		if _, err := ch.c.AwaitIPs(ctx, churnNS, s.name, len(svc.Spec.IPFamilies)); err != nil {
			missing = append(missing, err.Error())
		}
	}
	return missing
}
