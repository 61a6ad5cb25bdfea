package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// shortLease lets a restarted controller take over quickly after its
// predecessor was killed without releasing its Lease.
var shortLease = []string{"-lease-duration", "2s", "-renew-deadline", "1500ms", "-retry-period", "250ms"}

// addressLog records, from a watch, every address set each Service ever
// showed, so a change that was later reverted is still caught, and every
// moment at which two Services held one address.
type addressLog struct {
	mu     sync.Mutex
	sets   map[string][]string     // service -> distinct address sets seen, in order
	holder map[netip.Addr]string   // address -> the Service holding it now
	held   map[string][]netip.Addr // service -> its addresses now
	dups   []string                // each moment two Services held an address
	// ended says why the watch stopped early (nil while it runs): what it
	// did not see cannot be checked.
	ended error
}

func (l *addressLog) record(s *corev1.Service) {
	ips := ingressIPs(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release(s.Name)
	if len(ips) == 0 {
		return
	}
	for _, ip := range ips {
		if other, ok := l.holder[ip]; ok {
			l.dups = append(l.dups, fmt.Sprintf("%s held by %s and %s (resourceVersion %s)", ip, other, s.Name, s.ResourceVersion))
		}
		l.holder[ip] = s.Name
	}
	l.held[s.Name] = ips
	key := fmt.Sprint(ips)
	seen := l.sets[s.Name]
	if len(seen) == 0 || seen[len(seen)-1] != key {
		l.sets[s.Name] = append(seen, key)
	}
}

// release forgets the addresses a Service held (it was deleted or shows
// new ones); l.mu is held.
func (l *addressLog) release(name string) {
	for _, ip := range l.held[name] {
		if l.holder[ip] == name {
			delete(l.holder, ip)
		}
	}
	delete(l.held, name)
}

// err says why the watch ended early, if it did.
func (l *addressLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// addressed is how many Services ever showed an address.
func (l *addressLog) addressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sets)
}

func watchAddresses(t *testing.T, e *env, ns string) *addressLog {
	// A plain watch ends on the first error (a fresh API server's watch
	// cache answers "too large resource version" for a while); the retry
	// watcher resumes from the last event it delivered, so nothing is
	// missed.
	cs := e.api.Clientset(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	list, err := cs.CoreV1().Services(ns).List(ctx, metav1ListOptions())
	if err != nil {
		t.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Services(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	l := &addressLog{sets: map[string][]string{}, holder: map[netip.Addr]string{}, held: map[string][]netip.Addr{}}
	for i := range list.Items {
		l.record(&list.Items[i])
	}
	go func() {
		defer func() {
			l.mu.Lock()
			if l.ended == nil {
				l.ended = errors.New("the watch channel closed")
			}
			l.mu.Unlock()
		}()
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*corev1.Service)
			if !ok {
				l.mu.Lock()
				l.ended = fmt.Errorf("watch event %s: %+v", ev.Type, ev.Object)
				l.mu.Unlock()
				return
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				l.record(s)
			case watch.Deleted:
				l.mu.Lock()
				l.release(s.Name)
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func TestKillingTheControllerMidwayChangesNoAddress(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("bulk", "2001:db8:300:2::/120"))
	e.create(pool("v4", "203.0.113.0/24"))
	e.namespace("apps")
	log := watchAddresses(t, e, "apps")
	ctrl := e.startController(shortLease...)

	const n = 200
	var created atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			opts := []svcOpt{ipv6()}
			if i%4 == 0 {
				opts = nil // IPv4
			}
			if err := e.c.Create(context.Background(), lbService("apps", fmt.Sprintf("s-%03d", i), opts...)); err != nil {
				t.Errorf("create: %v", err)
				return
			}
			created.Add(1)
		}
	}()

	// Kill the controller (no clean shutdown) twice while Services are still
	// being created, restarting it each time.
	for round := 1; round <= 2; round++ {
		target := int32(round * n / 3)
		waitFor(t, 60*time.Second, fmt.Sprintf("%d services created", target), func() (bool, error) {
			return created.Load() >= target, nil
		})
		ctrl.kill()
		ctrl = e.startController(shortLease...)
	}
	<-done

	final := map[netip.Addr]string{}
	for i := range n {
		name := fmt.Sprintf("s-%03d", i)
		for _, ip := range ingressIPs(e.waitForIPs("apps", name, 1)) {
			if other, dup := final[ip]; dup {
				t.Fatalf("%s and %s both hold %s", other, name, ip)
			}
			final[ip] = name
		}
	}
	// Give a late, wrong rewrite the chance to show up in the watch.
	time.Sleep(time.Second)
	log.mu.Lock()
	defer log.mu.Unlock()
	for name, sets := range log.sets {
		if len(sets) != 1 {
			t.Errorf("%s changed address across restarts: %v", name, sets)
		}
	}
	if !ctrl.alive() {
		t.Fatal("controller died")
	}
}

func TestRestartRewritesNoStatusAndServesNewServices(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("bulk", "2001:db8:300:2::/120"))
	e.namespace("apps")
	ctrl := e.startController(shortLease...)

	const n = 50
	for i := range n {
		e.create(lbService("apps", fmt.Sprintf("s-%02d", i), ipv6()))
	}
	versions := map[string]string{}
	for i := range n {
		s := e.waitForIPs("apps", fmt.Sprintf("s-%02d", i), 1)
		versions[s.Name] = s.ResourceVersion
	}

	ctrl.stop(t) // clean shutdown releases the Lease
	e.startController(shortLease...)
	e.create(lbService("apps", "after-restart", ipv6()))
	e.waitForIPs("apps", "after-restart", 1)
	time.Sleep(time.Second)

	var list corev1.ServiceList
	if err := e.c.List(context.Background(), &list, client.InNamespace("apps")); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if want, ok := versions[s.Name]; ok && s.ResourceVersion != want {
			t.Errorf("%s was rewritten after the restart (resourceVersion %s -> %s)", s.Name, want, s.ResourceVersion)
		}
	}
}
