package bgp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/rpc"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// The end-to-end tests run each Speaker in a node's network namespace.
// GoBGP opens its sockets from goroutines of its own (the listener and BFD
// socket from its server loop, every outgoing connection from a
// per-session goroutine), so switching one locked OS thread into the
// namespace (vlan's Host.Do) cannot work: those goroutines run on other
// threads, in the test's namespace. Instead the test binary starts itself
// again inside the namespace ("ip netns exec", vlan's Host.Start), where
// every thread is in the node's namespace, and drives the Speaker there
// over net/rpc on a Unix socket (a file, so it crosses namespaces).

// helperArg marks the re-executed test binary; its value is the socket.
const helperArg = "-ironlb-bgp-helper="

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], helperArg) {
		os.Exit(runHelper(strings.TrimPrefix(os.Args[1], helperArg)))
	}
	os.Exit(m.Run())
}

// runHelper serves one node's Speaker until killed.
func runHelper(sock string) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &SpeakerHelper{log: log}
	srv := rpc.NewServer()
	if err := srv.Register(h); err != nil {
		log.Error("register", "error", err)
		return 1
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		log.Error("listen", "error", err)
		return 1
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		h.Stop(struct{}{}, &struct{}{})
		os.Exit(0)
	}()
	srv.Accept(l)
	return 0
}

// SpeakerHelper is the RPC service of a helper process: one Speaker at a
// time, which can be stopped and replaced (a speaker restart).
type SpeakerHelper struct {
	log *slog.Logger

	mu     sync.Mutex
	spk    *Speaker
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// StartArgs configure a new Speaker.
type StartArgs struct {
	Options HelperOptions
	Peers   []Peer
	// Routes are set before Run when SetRoutes is true.
	Routes    []Route
	SetRoutes bool
}

func (h *SpeakerHelper) Start(args StartArgs, _ *struct{}) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.spk != nil {
		return errors.New("a speaker is running")
	}
	h.reg = prometheus.NewRegistry()
	o := args.Options
	log := h.log
	if o.SlowLog != "" {
		log = slog.New(&slowHandler{Handler: log.Handler(), msg: o.SlowLog, delay: o.SlowLogDelay})
	}
	opts := Options{
		RouterID: o.RouterID, ListenPort: o.ListenPort,
		GracefulRestartTime: o.GracefulRestartTime, GracefulRestartDeferral: o.GracefulRestartDeferral,
		Logger: log, Registerer: h.reg,
	}
	spk, err := New(opts)
	if err != nil {
		return err
	}
	if err := spk.SetPeers(args.Peers); err != nil {
		return err
	}
	if args.SetRoutes {
		if err := spk.SetRoutes(args.Routes); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- spk.Run(ctx) }()
	h.spk, h.cancel, h.done = spk, cancel, done
	return nil
}

// HelperOptions are the Options that cross the RPC (the helper supplies
// the logger and the registry).
type HelperOptions struct {
	RouterID                                     netip.Addr
	ListenPort                                   int
	GracefulRestartTime, GracefulRestartDeferral time.Duration
	// SlowLog: the speaker's log takes SlowLogDelay to write a record
	// with this message (a log sink that blocks, as a full pipe does).
	SlowLog      string
	SlowLogDelay time.Duration
}

// slowHandler delays the records with one message.
type slowHandler struct {
	slog.Handler
	msg   string
	delay time.Duration
}

func (h *slowHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		time.Sleep(h.delay)
	}
	return h.Handler.Handle(ctx, r)
}

func (h *slowHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &slowHandler{Handler: h.Handler.WithAttrs(attrs), msg: h.msg, delay: h.delay}
}

func (h *slowHandler) WithGroup(name string) slog.Handler {
	return &slowHandler{Handler: h.Handler.WithGroup(name), msg: h.msg, delay: h.delay}
}

// Goroutines returns the stacks of every goroutine of the helper.
func (h *SpeakerHelper) Goroutines(_ struct{}, out *string) error {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			*out = string(buf[:n])
			return nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Stop ends the Speaker's Run and waits for it.
func (h *SpeakerHelper) Stop(_ struct{}, _ *struct{}) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.spk == nil {
		return nil
	}
	h.cancel()
	err := <-h.done
	h.spk = nil
	return err
}

func (h *SpeakerHelper) speaker() (*Speaker, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.spk == nil {
		return nil, errors.New("no speaker running")
	}
	return h.spk, nil
}

func (h *SpeakerHelper) SetPeers(peers []Peer, _ *struct{}) error {
	s, err := h.speaker()
	if err != nil {
		return err
	}
	return s.SetPeers(peers)
}

func (h *SpeakerHelper) SetRoutes(routes []Route, _ *struct{}) error {
	s, err := h.speaker()
	if err != nil {
		return err
	}
	return s.SetRoutes(routes)
}

// UpdateArgs are UpdateRoutes' arguments.
type UpdateArgs struct {
	Prefixes []netip.Prefix
	Routes   []Route
}

func (h *SpeakerHelper) UpdateRoutes(args UpdateArgs, _ *struct{}) error {
	s, err := h.speaker()
	if err != nil {
		return err
	}
	return s.UpdateRoutes(args.Prefixes, args.Routes)
}

func (h *SpeakerHelper) Status(_ struct{}, out *[]PeerStatus) error {
	s, err := h.speaker()
	if err != nil {
		return err
	}
	*out = s.Status()
	return nil
}

// Metrics returns the Prometheus text exposition of the speaker's metrics.
func (h *SpeakerHelper) Metrics(_ struct{}, out *string) error {
	h.mu.Lock()
	reg := h.reg
	h.mu.Unlock()
	if reg == nil {
		return errors.New("no speaker started")
	}
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	*out = b.String()
	return nil
}

// nodeSpeaker is the test's handle on a helper process in a node.
type nodeSpeaker struct {
	t       testing.TB
	host    *vlan.Host
	proc    *vlan.Process
	client  *rpc.Client
	logPath string
}

// startNodeSpeaker starts a helper process in host.
func startNodeSpeaker(t testing.TB, host *vlan.Host) *nodeSpeaker {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Short: a Unix socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "ilb-bgp-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, host.Name+".sock")
	logPath := filepath.Join(dir, host.Name+".log")
	proc, err := host.Start(context.Background(), logPath, exe, helperArg+sock)
	if err != nil {
		t.Fatalf("start speaker helper in %s: %v", host.Name, err)
	}
	n := &nodeSpeaker{t: t, host: host, proc: proc, logPath: logPath}
	t.Cleanup(func() {
		if n.client != nil {
			n.client.Close()
		}
		if err := proc.Kill(); err != nil {
			t.Errorf("%s: %v", host.Name, err)
		}
		if t.Failed() {
			t.Logf("speaker log of %s kept in %s; last lines:\n%s", host.Name, logPath, tail(logPath, 30))
			return
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := rpc.Dial("unix", sock)
		if err == nil {
			n.client = c
			return n
		}
		select {
		case <-proc.Done():
			t.Fatalf("speaker helper in %s exited: %v\n%s", host.Name, proc.Wait(), tail(logPath, 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("speaker helper in %s: %v", host.Name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (n *nodeSpeaker) call(method string, args, reply any) error {
	if err := n.client.Call("SpeakerHelper."+method, args, reply); err != nil {
		return fmt.Errorf("%s: %s: %w", n.host.Name, method, err)
	}
	return nil
}

func (n *nodeSpeaker) Start(args StartArgs) {
	n.t.Helper()
	if err := n.call("Start", args, &struct{}{}); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeSpeaker) Stop() {
	n.t.Helper()
	if err := n.call("Stop", struct{}{}, &struct{}{}); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeSpeaker) SetPeers(peers []Peer) error {
	return n.call("SetPeers", peers, &struct{}{})
}

// Goroutines returns the helper's goroutine stacks.
func (n *nodeSpeaker) Goroutines() (string, error) {
	var out string
	err := n.call("Goroutines", struct{}{}, &out)
	return out, err
}

func (n *nodeSpeaker) SetRoutes(routes []Route) error {
	return n.call("SetRoutes", routes, &struct{}{})
}

func (n *nodeSpeaker) MustUpdateRoutes(prefixes []netip.Prefix, routes []Route) {
	n.t.Helper()
	if err := n.call("UpdateRoutes", UpdateArgs{Prefixes: prefixes, Routes: routes}, &struct{}{}); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeSpeaker) MustSetRoutes(routes []Route) {
	n.t.Helper()
	if err := n.SetRoutes(routes); err != nil {
		n.t.Fatal(err)
	}
}

func (n *nodeSpeaker) Status() []PeerStatus {
	n.t.Helper()
	var out []PeerStatus
	if err := n.call("Status", struct{}{}, &out); err != nil {
		n.t.Fatal(err)
	}
	return out
}

// PeerStatus returns the status of one peer.
func (n *nodeSpeaker) PeerStatus(name string) PeerStatus {
	n.t.Helper()
	for _, s := range n.Status() {
		if s.Name == name {
			return s
		}
	}
	n.t.Fatalf("%s: no status for peer %q", n.host.Name, name)
	return PeerStatus{}
}

func (n *nodeSpeaker) Metrics() string {
	n.t.Helper()
	var out string
	if err := n.call("Metrics", struct{}{}, &out); err != nil {
		n.t.Fatal(err)
	}
	return out
}

// addrOf returns the host's address of a family.
func addrOf(h *vlan.Host, v4 bool) netip.Addr {
	if v4 {
		return h.IPv4.Addr()
	}
	return h.IPv6.Addr()
}
