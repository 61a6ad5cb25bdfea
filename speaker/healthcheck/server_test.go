package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
)

var loopback4 = netip.MustParseAddr("127.0.0.1")

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// start runs a Server until the test ends and fails the test if Run fails
// or does not stop.
func start(t *testing.T, o Options) *Server {
	t.Helper()
	if !o.ListenAddr.IsValid() {
		o.ListenAddr = loopback4
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

type reply struct {
	code   int
	header http.Header
	body   string
	reused bool
}

func do(t *testing.T, c *http.Client, method, url string) (reply, error) {
	t.Helper()
	var r reply
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { r.reused = i.Reused },
	})
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	r.code, r.header, r.body = resp.StatusCode, resp.Header, string(b)
	return r, nil
}

func newClient(keepAlive bool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive}}
}

// get waits for the port to answer (Run binds new ports asynchronously).
func get(t *testing.T, c *http.Client, url string) reply {
	t.Helper()
	var last error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r, err := do(t, c, http.MethodGet, url)
		if err == nil {
			return r
		}
		last = err
	}
	t.Fatalf("GET %s: %v", url, last)
	return reply{}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

// kubeProxyBody is kube-proxy v1.34.2's output for ns/web with 2 endpoints,
// captured by running its dedent template.
const kubeProxyBody = "{\n\t\"service\": {\n\t\t\"namespace\": \"ns\",\n\t\t\"name\": \"web\"\n\t},\n\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}"

func TestServerAnswersLikeKubeProxy(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := start(t, Options{Registerer: reg})
	p1, p2 := freePort(t), freePort(t)
	s.Set(map[uint16]Entry{p1: {Service: nn("ns", "web"), LocalEndpoints: 2}, p2: {Service: nn("ns", "idle")}})
	c := newClient(false)

	r := get(t, c, fmt.Sprintf("http://127.0.0.1:%d/", p1))
	if r.code != http.StatusOK || r.body != kubeProxyBody {
		t.Errorf("port with endpoints: %d %q, want 200 %q", r.code, r.body, kubeProxyBody)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "X-Load-Balancing-Endpoint-Weight": "2"} {
		if got := r.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}

	get(t, c, fmt.Sprintf("http://127.0.0.1:%d/", p2)) // wait until bound
	r, err := do(t, c, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/some/path?x=1", p2))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(`"web"`, `"idle"`, `"localEndpoints": 2`, `"localEndpoints": 0`).Replace(kubeProxyBody)
	if r.code != http.StatusServiceUnavailable || r.body != want || r.header.Get("X-Load-Balancing-Endpoint-Weight") != "0" {
		t.Errorf("port without endpoints: %d %q weight %q, want 503 %q weight 0", r.code, r.body, r.header.Get("X-Load-Balancing-Endpoint-Weight"), want)
	}

	if got := testutil.ToFloat64(s.m.ok); got != 1 {
		t.Errorf("requests_total{code=200} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.m.unavailable); got != 2 {
		t.Errorf("requests_total{code=503} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.m.ports); got != 2 {
		t.Errorf("ports = %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "ironlb_healthcheck_ports", "ironlb_healthcheck_ports_failed", "ironlb_healthcheck_requests_total"); err != nil || n != 4 {
		t.Errorf("registered series = %d (%v), want 4", n, err)
	}
}

func TestServerUpdatesCountWithoutReopening(t *testing.T) {
	var opens atomic.Int32
	s := start(t, Options{Listen: func(network, addr string) (net.Listener, error) {
		opens.Add(1)
		return net.Listen(network, addr)
	}})
	p := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", p)
	c := newClient(true)

	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web")}})
	if r := get(t, c, url); r.code != http.StatusServiceUnavailable {
		t.Fatalf("count 0: got %d, want 503", r.code)
	}
	// Set updates a bound port synchronously: the very next request sees it.
	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web"), LocalEndpoints: 3}})
	r, err := do(t, c, http.MethodGet, url)
	if err != nil {
		t.Fatal(err)
	}
	if r.code != http.StatusOK || !strings.Contains(r.body, `"localEndpoints": 3,`) || r.header.Get("X-Load-Balancing-Endpoint-Weight") != "3" {
		t.Errorf("count 3: got %d %q", r.code, r.body)
	}
	if !r.reused {
		t.Error("the kept-alive connection was not reused: listener reopened?")
	}
	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web")}})
	if r, err := do(t, c, http.MethodGet, url); err != nil || r.code != http.StatusServiceUnavailable || !r.reused {
		t.Errorf("back to 0: got %d reused=%v err=%v, want 503 on the same connection", r.code, r.reused, err)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("Listen called %d times, want 1", n)
	}
}

func TestServerClosesRemovedPort(t *testing.T) {
	s := start(t, Options{})
	keep, drop := freePort(t), freePort(t)
	c := newClient(false)
	s.Set(map[uint16]Entry{keep: {Service: nn("ns", "keep"), LocalEndpoints: 1}, drop: {Service: nn("ns", "drop"), LocalEndpoints: 1}})
	get(t, c, fmt.Sprintf("http://127.0.0.1:%d/", drop))
	get(t, c, fmt.Sprintf("http://127.0.0.1:%d/", keep))

	s.Set(map[uint16]Entry{keep: {Service: nn("ns", "keep"), LocalEndpoints: 1}})
	waitFor(t, "removed port to refuse connections", func() bool { return refused(fmt.Sprintf("127.0.0.1:%d", drop)) })
	if r := get(t, c, fmt.Sprintf("http://127.0.0.1:%d/", keep)); r.code != http.StatusOK {
		t.Errorf("kept port: %d, want 200", r.code)
	}
	waitFor(t, "ports gauge 1", func() bool { return testutil.ToFloat64(s.m.ports) == 1 })

	s.Set(nil)
	waitFor(t, "last port to close", func() bool { return refused(fmt.Sprintf("127.0.0.1:%d", keep)) })
	waitFor(t, "ports gauge 0", func() bool { return testutil.ToFloat64(s.m.ports) == 0 })
}

func TestServerRetriesBusyPort(t *testing.T) {
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	p := uint16(squatter.Addr().(*net.TCPAddr).Port)

	var mu sync.Mutex
	var failures []string
	s := start(t, Options{RetryInterval: 10 * time.Millisecond, BindFailed: func(port uint16, svc types.NamespacedName, err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("%d %s %v", port, svc, err))
	}})
	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web"), LocalEndpoints: 1}})
	waitFor(t, "failed gauge 1", func() bool { return testutil.ToFloat64(s.m.failed) == 1 })
	time.Sleep(50 * time.Millisecond) // several retries
	mu.Lock()
	if len(failures) != 1 || !strings.Contains(failures[0], "ns/web") || !strings.Contains(failures[0], "address already in use") {
		t.Errorf("BindFailed calls = %q, want one naming ns/web and the error", failures)
	}
	mu.Unlock()
	if got := testutil.ToFloat64(s.m.ports); got != 0 {
		t.Errorf("ports = %v while the port is taken, want 0", got)
	}

	squatter.Close()
	if r := get(t, newClient(false), fmt.Sprintf("http://127.0.0.1:%d/", p)); r.code != http.StatusOK {
		t.Errorf("after the port was freed: %d, want 200", r.code)
	}
	waitFor(t, "failed gauge 0", func() bool { return testutil.ToFloat64(s.m.failed) == 0 })
}

func TestServerProxyUnhealthy(t *testing.T) {
	var healthy atomic.Bool
	s := start(t, Options{ProxyHealthy: healthy.Load})
	p := freePort(t)
	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web"), LocalEndpoints: 2}})
	url := fmt.Sprintf("http://127.0.0.1:%d/", p)
	r := get(t, newClient(false), url)
	want := strings.Replace(kubeProxyBody, `"serviceProxyHealthy": true`, `"serviceProxyHealthy": false`, 1)
	if r.code != http.StatusServiceUnavailable || r.body != want || r.header.Get("X-Load-Balancing-Endpoint-Weight") != "2" {
		t.Errorf("unhealthy proxy: %d %q, want 503 %q", r.code, r.body, want)
	}
	healthy.Store(true)
	if r := get(t, newClient(false), url); r.code != http.StatusOK {
		t.Errorf("healthy again: %d, want 200", r.code)
	}
}

// The zero ListenAddr serves IPv4 and IPv6 on one socket, as kube-proxy's
// "0.0.0.0:port" does.
func TestServerDefaultAddressIsDualStack(t *testing.T) {
	var addrs []string
	var mu sync.Mutex
	s, err := New(Options{Listen: func(network, addr string) (net.Listener, error) {
		mu.Lock()
		addrs = append(addrs, network+" "+addr)
		mu.Unlock()
		return net.Listen(network, addr)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	p := freePort(t)
	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web"), LocalEndpoints: 1}})
	c := newClient(false)
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		if r := get(t, c, fmt.Sprintf("http://%s:%d/", host, p)); r.code != http.StatusOK {
			t.Errorf("via %s: %d, want 200", host, r.code)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := fmt.Sprintf("tcp :%d", p); len(addrs) != 1 || addrs[0] != want {
		t.Errorf("listened on %q, want [%q]", addrs, want)
	}
}

func TestServerStopsOnCancel(t *testing.T) {
	s, err := New(Options{ListenAddr: loopback4})
	if err != nil {
		t.Fatal(err)
	}
	p := freePort(t)
	s.Set(map[uint16]Entry{p: {Service: nn("ns", "web"), LocalEndpoints: 1}}) // before Run: applied when it starts
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	get(t, newClient(false), fmt.Sprintf("http://127.0.0.1:%d/", p))

	// A kept-alive connection must not hold Run open.
	c := newClient(true)
	if _, err := do(t, c, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", p)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !refused(fmt.Sprintf("127.0.0.1:%d", p)) {
		t.Error("port still open after Run returned")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "Options.Registerer") {
		t.Errorf("second Server on one registry: %v, want an Options.Registerer error", err)
	}
	if _, err := New(Options{RetryInterval: -time.Second}); err == nil || !strings.Contains(err.Error(), "Options.RetryInterval") {
		t.Errorf("negative RetryInterval: %v, want an Options.RetryInterval error", err)
	}
}

// Update changes the ports it names and leaves the others as they are.
func TestServerUpdateTouchesOnlyItsPorts(t *testing.T) {
	s := start(t, Options{})
	keep, change, drop, add := freePort(t), freePort(t), freePort(t), freePort(t)
	url := func(p uint16) string { return fmt.Sprintf("http://127.0.0.1:%d/", p) }
	c := newClient(false)
	s.Set(map[uint16]Entry{
		keep:   {Service: nn("ns", "keep"), LocalEndpoints: 1},
		change: {Service: nn("ns", "change")},
		drop:   {Service: nn("ns", "drop"), LocalEndpoints: 1},
	})
	get(t, c, url(drop))

	s.Update(map[uint16]*Entry{
		change: {Service: nn("ns", "change"), LocalEndpoints: 2},
		drop:   nil,
		add:    {Service: nn("ns", "add"), LocalEndpoints: 1},
	})
	if r := get(t, c, url(change)); r.code != http.StatusOK || !strings.Contains(r.body, `"localEndpoints": 2,`) {
		t.Errorf("changed port: %d %q, want 200 with 2 endpoints", r.code, r.body)
	}
	waitFor(t, "the dropped port to refuse connections", func() bool { return refused(fmt.Sprintf("127.0.0.1:%d", drop)) })
	if r := get(t, c, url(add)); r.code != http.StatusOK || !strings.Contains(r.body, `"name": "add"`) {
		t.Errorf("added port: %d %q, want 200 for ns/add", r.code, r.body)
	}
	if r := get(t, c, url(keep)); r.code != http.StatusOK || !strings.Contains(r.body, `"name": "keep"`) {
		t.Errorf("untouched port: %d %q, want 200 for ns/keep", r.code, r.body)
	}
	waitFor(t, "ports gauge 3", func() bool { return testutil.ToFloat64(s.m.ports) == 3 })
}
