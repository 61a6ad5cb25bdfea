package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/kubeclient"
	"github.com/ironlb/ironlb/pkg/memlimit"
	"github.com/ironlb/ironlb/pkg/metricsserving"
	"github.com/ironlb/ironlb/pkg/trigger"
	"github.com/ironlb/ironlb/speaker/bgpsync"
	"github.com/ironlb/ironlb/speaker/cachetrim"
	"github.com/ironlb/ironlb/speaker/dpsync"
	"github.com/ironlb/ironlb/speaker/hostnet"
	"github.com/ironlb/ironlb/speaker/l2sync"
	"github.com/ironlb/ironlb/speaker/layer2"
	"github.com/ironlb/ironlb/speaker/members"
	"github.com/ironlb/ironlb/speaker/sliceindex"
	"github.com/ironlb/ironlb/speaker/view"
)

func run(ctx context.Context, o options) error {
	slogger := newLogger(o.logLevel)
	log := logr.FromSlogHandler(slogger.Handler())
	ctrl.SetLogger(log)
	soft := memlimit.Apply(o.memoryLimit, os.Getenv(memlimit.EnvGoMemLimit))
	log.Info("Go memory limit", "softLimitBytes", soft.Limit, "why", soft.Why)

	restCfg, err := kubeclient.Config(o.kubeconfig)
	if err != nil {
		return err
	}
	scheme, err := newScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restCfg, manager.Options{
		Scheme: scheme, Logger: log,
		Metrics:                metricsserving.ServerOptions(o.metrics),
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		Cache:                  cacheOptions(o.namespace),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}

	bind, err := membersBind(ctx, mgr.GetAPIReader(), o)
	if err != nil {
		return err
	}
	mem, err := members.New(members.Options{
		Node: o.node, Bind: bind, Interval: o.membersInterval, Timeout: o.membersTimeout,
		Secret: o.membersSecrets[0], AcceptSecrets: o.membersSecrets[1:], Logger: slogger.With("component", "members"), Registerer: ctrlmetrics.Registry,
	})
	if err != nil {
		return fmt.Errorf("members: %w", err)
	}
	if err := mem.SetMeta([]byte(strings.Join(localMACs(), ","))); err != nil {
		return fmt.Errorf("members: %w", err)
	}
	ann, err := layer2.New(layer2.Options{
		Logger: slogger.With("component", "layer2"), Registerer: ctrlmetrics.Registry,
		RefreshInterval: o.l2Refresh, AnswerCheckInterval: o.l2Check,
		FriendlyMACs: func() map[string]bool { return friendlyMACs(mem) },
	})
	if err != nil {
		return fmt.Errorf("layer2: %w", err)
	}

	l2trigger, bgpTrigger := &trigger.Trigger{}, &trigger.Trigger{}
	var cfg atomic.Pointer[config.Config]
	if err := (&configWatch{client: mgr.GetClient(), log: log, store: &cfg, changed: []*trigger.Trigger{l2trigger, bgpTrigger}}).setup(mgr); err != nil {
		return err
	}
	if err := (&peerWatch{client: mgr.GetClient(), members: mem, port: bind.Port(), family4: bind.Addr().Is4()}).setup(mgr); err != nil {
		return err
	}
	// Before hearing from its peers (after the start, or after its link was
	// down) a speaker would think itself alone and claim everything: wait a
	// few liveness timeouts first.
	// The host's links, read again only after the kernel announced a
	// change: the layer 2 syncer and the liveness link check read them on
	// every pass.
	host := hostnet.NewCache(slogger.With("component", "hostnet"))
	if err := mgr.Add(manager.RunnableFunc(host.Run)); err != nil {
		return err
	}
	heardPeers := newPeersGate(3*o.membersTimeout, bindLinkUp(host, bind.Addr())).Ready
	// Not ready before it may act: a rollout waits for this node to take
	// part in the layer 2 elections before it restarts the next one.
	if err := mgr.AddReadyzCheck("members", func(*http.Request) error {
		if !heardPeers() {
			return errors.New("members: still listening for the other speakers")
		}
		return nil
	}); err != nil {
		return err
	}
	// One view of Services, EndpointSlices and Nodes, kept up to date by
	// the informers, for the consumers that work per change.
	clusterView := view.New()
	if err := clusterView.Register(ctx, mgr.GetCache()); err != nil {
		return fmt.Errorf("cluster view: %w", err)
	}
	decided, err := newDecided(ctrlmetrics.Registry)
	if err != nil {
		return err
	}
	syncer := &l2sync.Syncer{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("ironlb-speaker"), Log: log.WithName("layer2"),
		Node: o.node, Config: cfg.Load, Alive: mem.Alive, Announcer: ann,
		Ready:      heardPeers,
		Interfaces: func() ([]l2sync.Iface, error) { return hostInterfaces(host) },
		View:       clusterView,
		Decided:    decided.WithLabelValues(modeLayer2),
	}
	if err := syncer.SetupWithManager(mgr, l2trigger); err != nil {
		return fmt.Errorf("set up layer 2: %w", err)
	}
	nw := &nodeWeightWatch{client: mgr.GetClient(), recorder: mgr.GetEventRecorderFor("ironlb-speaker"), log: log.WithName("node-weight"), node: o.node}
	if err := nw.setup(mgr); err != nil {
		return fmt.Errorf("node weight: %w", err)
	}
	pw := &presenceWriter{client: mgr.GetClient(), api: mgr.GetAPIReader(), namespace: o.namespace, node: o.node,
		alive: mem.Alive, ready: heardPeers, linkUp: bindLinkUp(host, bind.Addr()), log: log.WithName("presence")}
	if o.datapath != "off" {
		// The datapath sets aside endpoints on these nodes: publish them.
		pw.dead = func() map[string]time.Time { return deadSince(mem.PeerInfo()) }
	}
	if err := mgr.Add(manager.RunnableFunc(pw.Run)); err != nil {
		return err
	}
	bgpSyncer, err := setupBGP(mgr, o, bind, &cfg, clusterView, decided.WithLabelValues(modeBGP), bgpTrigger, slogger, log)
	if err != nil {
		return err
	}
	prober, bgpReach, err := setupReach(mgr, o, syncer, bgpSyncer, slogger, log)
	if err != nil {
		return err
	}
	// The datapath and the health check ports find a Service's
	// EndpointSlices through one index, kept only when one of them runs.
	var slices *sliceindex.Index
	if o.datapath != "off" || o.healthChecks {
		if slices, err = sliceindex.Register(ctx, mgr.GetCache()); err != nil {
			return err
		}
	}
	dpTrigger := &trigger.Trigger{}
	if err := setupDatapath(ctx, mgr, o, mem, dpTrigger, slices, slogger, log); err != nil {
		return err
	}
	if o.healthChecks {
		if err := setupHealthChecks(mgr, o.node, slices, slogger, log); err != nil {
			return err
		}
	}

	// Everything below runs until the hand-off is over, not until the signal.
	runCtx, stopAll := context.WithCancel(context.Background())
	defer stopAll()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-mem.Changes():
				l2trigger.Add(l2sync.Key)
				dpTrigger.Add(dpsync.DeadNodesKey)
				if bgpReach != nil {
					bgpReach.Wake() // a dead node's entries go now
				}
			case c := <-ann.Conflicts():
				log.Info("address conflict", "ip", c.IP, "interface", c.Interface, "mac", c.MAC.String(), "cleared", c.Cleared)
				l2trigger.Add(l2sync.Key)
				if prober != nil {
					prober.Wake() // the verdict of that address changes now
				}
			}
		}
	}()
	runnables := []func(context.Context) error{mem.Run, ann.Run}
	if o.membersKeyFile != "" {
		runnables = append(runnables, func(ctx context.Context) error {
			return watchMemberKeys(ctx, o.membersKeyFile, mem, slogger.With("component", "members"))
		})
	}
	for _, r := range runnables {
		if err := mgr.Add(manager.RunnableFunc(r)); err != nil {
			return err
		}
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	log.Info("speaker started", "node", o.node, "members", bind.String())

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Graceful hand-off: the peers drop this node and take its addresses
	// over (gratuitous ARP/NA from the new owners) while it still answers;
	// only then does it go quiet.
	leaveCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := mem.Leave(leaveCtx); err != nil {
		log.Info("leave", "error", err.Error())
	}
	cancel()
	time.Sleep(o.handoffWait)
	relCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = ann.Release(relCtx)
	cancel()
	stopAll()
	return <-done
}

// cacheOptions trims what the cache keeps to what the speaker reads: at
// 10,000 Services the full Services and EndpointSlices were most of its
// memory. BGP password Secrets are watched in the speaker's namespace
// only (a namespaced Role suffices), and of them the cache keeps nothing
// but their password key.
func cacheOptions(namespace string) cache.Options {
	byObject := cachetrim.ByObject()
	byObject[&corev1.Secret{}] = cache.ByObject{
		Namespaces: map[string]cache.Config{namespace: {}},
		Transform:  bgpsync.KeepPassword,
	}
	return cache.Options{ByObject: byObject, DefaultTransform: cachetrim.StripManagedFields()}
}

// membersBind is the flag's address, or the Node's InternalIP.
func membersBind(ctx context.Context, r client.Reader, o options) (netip.AddrPort, error) {
	if o.membersBind != "" {
		return netip.MustParseAddrPort(o.membersBind), nil
	}
	var node corev1.Node
	for {
		err := r.Get(ctx, client.ObjectKey{Name: o.node}, &node)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return netip.AddrPort{}, fmt.Errorf("read Node %s for its InternalIP: %w", o.node, err)
		case <-time.After(time.Second):
		}
	}
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			return netip.AddrPortFrom(ip, uint16(o.membersPort)), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("node %s has no InternalIP: set -members-bind", o.node)
}

// localMACs are this node's interface MACs, published to the other
// speakers so they can tell a hand-over from a foreign host.
func localMACs() []string {
	ifs, _ := net.Interfaces()
	var out []string
	for _, i := range ifs {
		if len(i.HardwareAddr) == 6 {
			out = append(out, i.HardwareAddr.String())
		}
	}
	return out
}

func friendlyMACs(m *members.Members) map[string]bool {
	out := map[string]bool{}
	for _, p := range m.PeerInfo() {
		for _, mac := range strings.Split(string(p.Meta), ",") {
			if mac != "" {
				out[strings.ToLower(mac)] = true
			}
		}
	}
	return out
}

func hostInterfaces(host *hostnet.Cache) ([]l2sync.Iface, error) {
	links, err := host.Links()
	if err != nil {
		return nil, err
	}
	out := make([]l2sync.Iface, len(links))
	for i, l := range links {
		out[i] = l2sync.Iface{
			Name: l.Name, Up: l.Flags&net.FlagUp != 0, Loopback: l.Flags&net.FlagLoopback != 0,
			Prefixes: l.Prefixes, DefaultRoute4: l.DefaultRoute4, DefaultRoute6: l.DefaultRoute6,
		}
	}
	return out, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// newScheme has the kinds the speaker reads and writes: Kubernetes' own
// and IronLB's.
func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}
