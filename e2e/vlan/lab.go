package vlan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Lab is a running virtual LAN.
type Lab struct {
	// Name is the common prefix of the lab's namespaces, "ilb-<pid>-<id>".
	Name    string
	LAN     *Segment
	Nodes   []*Host
	Clients []*Host
	Router  *Host // nil unless Options.Router

	ctx    context.Context // cancelled by Close: stops owned goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup
	spawn  chan spawnRequest

	podMu sync.Mutex // serialises AddPod

	mu         sync.Mutex
	closed     bool
	namespaces []*namespace // in creation order
	hosts      map[string]*Host
	pods       []*Host
	procs      map[*Process]struct{}
	podIfaces  int // node-side pod veths made so far, for unique names
}

// New builds a lab for a test and tears it down in t.Cleanup, also when the
// test fails. It fails the test at once when not run as root.
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("vlan: a lab needs root (network namespaces, veth, bridge): run the tests as root, e.g. sudo -E go test ./e2e/...")
	}
	l, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("vlan: start lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("vlan: close lab %s: %v", l.Name, err)
		}
	})
	return l
}

// Start builds a lab; the caller must Close it. ctx bounds the setup only.
// It first removes leftovers of dead processes (Sweep). If building fails
// part way, everything built so far is removed before Start returns.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("vlan: a lab needs root (network namespaces, veth, bridge)")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("vlan: iproute2's ip is needed: %w", err)
	}
	sweepErr := Sweep()

	lctx, cancel := context.WithCancel(context.Background())
	l := &Lab{
		Name:   fmt.Sprintf("%s-%d-%s", marker, os.Getpid(), opts.ID),
		ctx:    lctx,
		cancel: cancel,
		spawn:  make(chan spawnRequest),
		hosts:  map[string]*Host{},
		procs:  map[*Process]struct{}{},
	}
	l.wg.Add(1)
	go l.spawner()

	if err := l.build(ctx, opts); err != nil {
		// A failed sweep of dead leftovers alone does not stop a lab, but
		// it may explain why building failed.
		return nil, errors.Join(fmt.Errorf("vlan: build lab %s: %w", l.Name, err), sweepErr, l.Close())
	}
	return l, nil
}

func (l *Lab) build(ctx context.Context, opts Options) error {
	lan, err := l.newSegment(ctx)
	if err != nil {
		return err
	}
	l.LAN = lan
	if opts.Router {
		if l.Router, err = l.addLANHost(ctx, RoleRouter, "router", routerOctet); err != nil {
			return err
		}
	}
	for i := 1; i <= opts.Nodes; i++ {
		h, err := l.addLANHost(ctx, RoleNode, fmt.Sprintf("node%d", i), firstNodeOctet+i-1)
		if err != nil {
			return err
		}
		h.index = i
		if i <= MaxPodNodes {
			h.PodCIDRv4, h.PodCIDRv6, _ = podSubnets(i)
		}
		l.Nodes = append(l.Nodes, h)
	}
	for i := 1; i <= opts.Clients; i++ {
		h, err := l.addLANHost(ctx, RoleClient, fmt.Sprintf("client%d", i), firstClientOctet+i-1)
		if err != nil {
			return err
		}
		l.Clients = append(l.Clients, h)
	}
	var refs []ifRef
	for _, h := range l.Hosts() {
		refs = append(refs,
			ifRef{ns: h.ns, name: h.Iface, v6: []netip.Addr{h.IPv6.Addr()}},
			ifRef{ns: h.peerNS, name: h.peerName})
	}
	return waitReady(ctx, true, refs...)
}

// newNamespace creates "<lab>-<suffix>" and registers it for Close.
func (l *Lab) newNamespace(ctx context.Context, suffix string) (*namespace, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	ns, err := createNamespace(ctx, l.Name+"-"+suffix)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.Join(errClosed, ns.close())
	}
	l.namespaces = append(l.namespaces, ns)
	return ns, nil
}

var errClosed = errors.New("vlan: lab is closed")

// dropNamespace deletes a namespace at once instead of at Close (a pod
// whose setup failed).
func (l *Lab) dropNamespace(ns *namespace) error {
	l.mu.Lock()
	for i, n := range l.namespaces {
		if n == ns {
			l.namespaces = append(l.namespaces[:i], l.namespaces[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	return ns.close()
}

// Host returns the host (LAN host or pod) with this name, or nil.
func (l *Lab) Host(name string) *Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hosts[name]
}

// Hosts returns every host, LAN hosts first, sorted by name within each.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Host, 0, len(l.hosts))
	for _, h := range l.hosts {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Role == RolePod) != (out[j].Role == RolePod) {
			return out[j].Role == RolePod
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Summary is a human-readable table of the lab's hosts, for the lab binary
// and for test logs.
func (l *Lab) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s: LAN %s %s, bridge %s in netns %s\n", l.Name, LANv4, LANv6, l.LAN.Bridge, l.LAN.NetNS)
	for _, h := range l.Hosts() {
		fmt.Fprintf(&b, "  %-8s %-7s netns %-28s %s %-17s %-22s %s", h.Name, h.Role, h.NetNS, h.Iface, h.MAC, h.IPv4, h.IPv6)
		if h.PodCIDRv4.IsValid() {
			fmt.Fprintf(&b, "  pods %s %s", h.PodCIDRv4, h.PodCIDRv6)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// goOwned runs fn on a goroutine that Close waits for; fn must return once
// ctx (the lab's lifetime) is done.
func (l *Lab) goOwned(fn func(ctx context.Context)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn(l.ctx)
	}()
	return nil
}

// Close stops the lab's goroutines and processes, kills anything else still
// running in its namespaces and deletes them. It is safe to call twice.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := make([]*Process, 0, len(l.procs))
	for p := range l.procs {
		procs = append(procs, p)
	}
	nss := l.namespaces
	l.namespaces = nil
	l.mu.Unlock()

	var errs []error
	l.cancel()
	for _, p := range procs {
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	close(l.spawn)
	l.wg.Wait()
	// Pods first, the LAN last: the reverse of creation.
	for i := len(nss) - 1; i >= 0; i-- {
		if err := nss[i].close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// spawnRequest asks the spawner thread to start a command.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// spawner starts every long-running process of the lab from one OS thread
// that stays locked for the lab's life. Pdeathsig fires when the thread
// that forked a child exits, not when the process does; Go may end an
// arbitrary thread, so forking from a random one could kill a child early.
// This thread ends only when Close closes l.spawn (the goroutine returns
// while still locked), by which time the children have been killed anyway.
func (l *Lab) spawner() {
	defer l.wg.Done()
	runtime.LockOSThread()
	// Deliberately no UnlockOSThread: see above.
	for req := range l.spawn {
		req.done <- req.cmd.Start()
	}
}
