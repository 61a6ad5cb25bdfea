package reach

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// The prober against a real listener on loopback: answering, then the
// server stops (connection refused: not answering, event, metric 0), then
// it serves again (answering, event, metric 1); an address no longer
// announced leaves no verdict and no metric.
func TestProberReportsAndClears(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	go acceptAll(ln)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{tcp(int32(addr.Port())), udp(53)}}}
	key := types.NamespacedName{Namespace: "default", Name: "web"}
	announced := make(chan []Target, 1)
	announced <- []Target{{IP: addr.Addr(), Services: []types.NamespacedName{key}}}
	current := func() []Target { ts := <-announced; announced <- ts; return ts }
	rec := record.NewFakeRecorder(10)
	reg := prometheus.NewRegistry()
	changed := make(chan struct{}, 100)
	p, err := New(Options{
		Targets: current,
		Service: func(types.NamespacedName) (*corev1.Service, bool) { return svc, true },
		Changed: func() { changed <- struct{}{} }, Recorder: rec, Registerer: reg,
		Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	port := "tcp/" + strings.TrimPrefix(addr.String(), "127.0.0.1:")
	metric := func() float64 {
		return testutil.ToFloat64(p.metric.WithLabelValues("default", "web", "127.0.0.1", port))
	}
	waitVerdict(t, p, key, addr.Addr(), "True")
	if metric() != 1 {
		t.Fatalf("metric %v, want 1", metric())
	}

	ln.Close()
	waitVerdict(t, p, key, addr.Addr(), "False")
	if ev := <-rec.Events; !strings.Contains(ev, "Warning "+EventNotAnswering) || !strings.Contains(ev, "connection refused") {
		t.Fatalf("event %q", ev)
	}
	if metric() != 0 {
		t.Fatalf("metric %v, want 0", metric())
	}

	ln2, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go acceptAll(ln2)
	waitVerdict(t, p, key, addr.Addr(), "True")
	if ev := <-rec.Events; !strings.Contains(ev, "Normal "+EventAnswering) {
		t.Fatalf("event %q", ev)
	}
	if len(changed) == 0 {
		t.Fatal("Changed was never called")
	}

	<-announced
	announced <- nil
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := p.Verdict(key, addr.Addr()); !ok && testutil.CollectAndCount(p.metric) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the verdict or metric of an address no longer announced stayed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func waitVerdict(t *testing.T, p *Prober, k types.NamespacedName, ip netip.Addr, want metav1.ConditionStatus) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok := p.Verdict(k, ip)
		if ok && v.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("verdict %+v (%v), want %s", v, ok, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
