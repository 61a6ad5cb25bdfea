package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// AddressLog records, from a watch of Services, every address set each
// Service ever showed, so a change that was later reverted is still
// caught, and every moment at which two Services held one address.
// Services are keyed "namespace/name".
type AddressLog struct {
	mu     sync.Mutex
	sets   map[string][]string     // service -> distinct address sets seen, in order
	holder map[netip.Addr]string   // address -> the Service holding it now
	held   map[string][]netip.Addr // service -> its addresses now
	dups   []string                // each moment two Services held an address
	// ended says why the watch stopped early (nil while it runs): what it
	// did not see cannot be checked.
	ended error
}

// AddressReport is what an AddressLog saw so far.
type AddressReport struct {
	// Addressed is how many Services ever showed an address.
	Addressed int
	// Duplicates lists each moment two Services held one address.
	Duplicates []string
	// Changed maps each Service that showed more than one address set to
	// the sets, in order.
	Changed map[string][]string
	// Ended says why the watch stopped early, nil while it runs.
	Ended error
}

// WatchAddresses watches the Services of namespace ns (empty: every
// namespace) until the test ends.
func WatchAddresses(t testing.TB, cs kubernetes.Interface, ns string) *AddressLog {
	t.Helper()
	// A plain watch ends on the first error (a fresh API server's watch
	// cache answers "too large resource version" for a while, and an API
	// server frozen or without etcd ends it); the retry watcher resumes
	// from the last event it delivered, so nothing is missed.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	list, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
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
	l := &AddressLog{sets: map[string][]string{}, holder: map[netip.Addr]string{}, held: map[string][]netip.Addr{}}
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
				l.release(key(s))
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func key(s *corev1.Service) string { return s.Namespace + "/" + s.Name }

func (l *AddressLog) record(s *corev1.Service) {
	var ips []netip.Addr
	for _, in := range s.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(in.IP); err == nil {
			ips = append(ips, ip)
		}
	}
	name := key(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release(name)
	if len(ips) == 0 {
		return
	}
	for _, ip := range ips {
		if other, ok := l.holder[ip]; ok {
			l.dups = append(l.dups, fmt.Sprintf("%s held by %s and %s (resourceVersion %s)", ip, other, name, s.ResourceVersion))
		}
		l.holder[ip] = name
	}
	l.held[name] = ips
	set := fmt.Sprint(ips)
	seen := l.sets[name]
	if len(seen) == 0 || seen[len(seen)-1] != set {
		l.sets[name] = append(seen, set)
	}
}

// release forgets the addresses a Service held (it was deleted or shows
// new ones); l.mu is held.
func (l *AddressLog) release(name string) {
	for _, ip := range l.held[name] {
		if l.holder[ip] == name {
			delete(l.holder, ip)
		}
	}
	delete(l.held, name)
}

// Err says why the watch ended early, if it did.
func (l *AddressLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// Addressed is how many Services ever showed an address.
func (l *AddressLog) Addressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sets)
}

// Report is what the log saw so far.
func (l *AddressLog) Report() AddressReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := AddressReport{Addressed: len(l.sets), Duplicates: append([]string(nil), l.dups...), Changed: map[string][]string{}, Ended: l.ended}
	for name, sets := range l.sets {
		if len(sets) > 1 {
			r.Changed[name] = append([]string(nil), sets...)
		}
	}
	return r
}
