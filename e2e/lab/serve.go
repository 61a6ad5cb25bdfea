package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// readyTimeout bounds the wait for every demo Service to have its
// addresses, an announcing node and a working request.
const readyTimeout = 2 * time.Minute

// serveConfig is the daemon's command line.
type serveConfig struct {
	state  stateDir
	kind   string        // kindProcess or kindCluster
	binDir string        // holds controller and speaker (make build)
	repo   string        // the repository (images, chart) for the cluster lab
	ttl    time.Duration // stop by itself after this long; 0: never
}

// serve is the lab daemon: it builds the lab, publishes lab.json once
// everything answers, and tears it all down on SIGTERM (or after ttl).
// Progress lines go to the progress file for the launcher to show.
func serve(ctx context.Context, cfg serveConfig) (err error) {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	if cfg.ttl > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.ttl)
		defer cancel()
	}
	prog, err := os.OpenFile(cfg.state.progress(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer prog.Close()
	begin := time.Now()
	step := func(msg string) {
		slog.Info(msg)
		fmt.Fprintf(prog, "[%5.1fs] %s\n", time.Since(begin).Seconds(), msg)
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(prog, "FAILED: %v\n", err)
		}
	}()
	if err := cfg.state.writePID(os.Getpid()); err != nil {
		return err
	}
	// A clean exit leaves no pid file and no published lab behind.
	defer os.Remove(cfg.state.pidFile())
	defer os.Remove(cfg.state.infoFile())
	defer os.Remove(cfg.state.kubeconfig())
	// The TMPDIR the launcher made (stateDir.tmpDir), empty once the API
	// server and the router are gone.
	if t := os.Getenv("TMPDIR"); strings.HasPrefix(filepath.Base(t), "ironlb-lab-") {
		defer os.Remove(t)
	}

	ms := modes()
	podCtx, stopPods := context.WithCancel(context.Background())
	defer stopPods()
	var b *backend
	if cfg.kind == kindCluster {
		b, err = startClusterLab(ctx, cfg, step)
	} else {
		b, err = startProcessLab(ctx, podCtx, cfg, step)
	}
	if err != nil {
		return err
	}
	defer func() {
		slog.Info("stopping the lab")
		if cerr := b.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stop: %w", cerr))
		}
		slog.Info("lab stopped")
	}()
	slog.Info("virtual LAN\n" + b.Lab.Summary())

	env := &labEnv{}
	defer func() {
		if cerr := env.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := applyDemo(ctx, b, ms, env, step); err != nil {
		return err
	}

	in := labInfo(b, cfg, env)
	v := view{API: b.API, RouterDir: env.RouterDir, Names: in.Names}
	ask := askerFor(cfg.kind, b.Lab.Clients[0].DialContext)
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := waitDemo(wctx, b, ms, v, ask, step); err != nil {
		return err
	}
	kc, err := os.ReadFile(b.Kubeconfig)
	if err != nil {
		return err
	}
	if err := writeAtomic(cfg.state.kubeconfig(), kc, 0o600); err != nil {
		return err
	}
	if err := cfg.state.writeInfo(in); err != nil {
		return err
	}
	step(fmt.Sprintf("ready in %s", time.Since(begin).Round(100*time.Millisecond)))

	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		slog.Info("lifetime over", "ttl", cfg.ttl)
	} else {
		slog.Info("signalled")
	}
	return nil
}

// waitDemo waits until every demo Service has both addresses, each with
// an announcing node and answering a request from the client.
func waitDemo(ctx context.Context, b *backend, ms []mode, v view, ask asker, step func(string)) error {
	var all []string
	for _, n := range b.Lab.Nodes {
		all = append(all, n.Name)
	}
	slices.Sort(all)
	for _, s := range demoServices() {
		m := modeNamed(ms, s.Mode)
		ips, err := cluster.AwaitServiceIPs(ctx, b.API, demoNamespace, s.Name, 2)
		if err != nil {
			return err
		}
		for _, ip := range ips {
			var nodes []string
			what := fmt.Sprintf("an announcement of %s (%s/%s)", ip, demoNamespace, s.Name)
			if err := cluster.Poll(ctx, what, func() error {
				var aerr error
				if nodes, aerr = m.Announcers(ctx, v, demoNamespace, s.Name, ip); aerr != nil {
					return aerr
				}
				return m.Settled(s, all, nodes)
			}); err != nil {
				return err
			}
			what = fmt.Sprintf("an answer from %s port 80 (%s/%s)", ip, demoNamespace, s.Name)
			if err := cluster.Poll(ctx, what, func() error {
				_, err := ask(ctx, ip, 80)
				return err
			}); err != nil {
				return err
			}
			step(fmt.Sprintf("%s/%s %s announced by %v and answering", demoNamespace, s.Name, ip, nodes))
		}
	}
	for _, m := range ms {
		if err := cluster.Poll(ctx, "mode "+m.Name()+" to report its state", func() error {
			return m.Ready(ctx, v, all)
		}); err != nil {
			return err
		}
	}
	return nil
}

// labInfo is what the launcher needs to print the table from outside.
func labInfo(b *backend, cfg serveConfig, env *labEnv) info {
	cl := b.Lab.Clients[0]
	names := map[string]string{}
	add := func(name string, addrs ...netip.Addr) {
		for _, a := range addrs {
			if a.IsValid() {
				names[a.String()] = name
			}
		}
	}
	for _, h := range b.Lab.Hosts() {
		add(h.Name, h.IPv4.Addr(), h.IPv6.Addr())
		if h.Role == vlan.RoleNode && h.PodCIDRv4.IsValid() {
			// Source NAT towards a local pod picks the node's gateway
			// address on the pod's veth (the CNI bridge in the cluster).
			add(h.Name, h.PodCIDRv4.Addr().Next())
			if h.PodCIDRv6.IsValid() {
				add(h.Name, h.PodCIDRv6.Addr().Next())
			}
		}
	}
	return info{
		PID: os.Getpid(), Started: time.Now(), Kind: cfg.kind, LabName: b.Lab.Name,
		APIServer: b.URL, Kubeconfig: cfg.state.kubeconfig(), Logs: b.Logs,
		Client:    host{Name: cl.Name, NetNS: cl.NetNS, IPv4: cl.IPv4.Addr().String(), IPv6: cl.IPv6.Addr().String()},
		Names:     names,
		RouterDir: env.RouterDir,
	}
}
