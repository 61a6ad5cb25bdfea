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
	binDir string        // holds controller and speaker (make build)
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
	step("starting etcd, kube-apiserver, the virtual LAN (3 nodes, a client, a router), the controller and a speaker per node")
	c, err := cluster.StartProcess(ctx, cluster.Options{
		Router:         true,
		Datapath:       "auto",
		ControllerArgs: []string{"-ip-mode", "Proxy"},
		// Debug logs of a lab that runs for days would fill the disk.
		SpeakerArgs: []string{"-log-level", "info"},
		LogDir:      cfg.state.logDir(),
	}, cluster.ProcessOptions{
		Binaries: cluster.Binaries{Controller: filepath.Join(cfg.binDir, "controller"), Speaker: filepath.Join(cfg.binDir, "speaker")},
		LabID:    "lab",
	})
	if err != nil {
		return err
	}
	defer func() {
		slog.Info("stopping the lab")
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stop: %w", cerr))
		}
		slog.Info("lab stopped")
	}()
	step(fmt.Sprintf("cluster up: API server %s, LAN %s", c.API.URL, c.Lab.Name))
	slog.Info("virtual LAN\n" + c.Lab.Summary())

	env := &labEnv{}
	defer func() {
		if cerr := env.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	podCtx, stopPods := context.WithCancel(context.Background())
	defer stopPods()
	if err := applyDemo(ctx, podCtx, c, ms, env, step); err != nil {
		return err
	}

	in := labInfo(c, cfg.state, env)
	v := view{API: c.Client, RouterDir: env.RouterDir, Names: in.Names}
	dial := c.Lab.Clients[0].DialContext
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := waitDemo(wctx, c, ms, v, dial, step); err != nil {
		return err
	}
	kc, err := os.ReadFile(c.API.Kubeconfig)
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
func waitDemo(ctx context.Context, c *cluster.Cluster, ms []mode, v view, dial dialer, step func(string)) error {
	var all []string
	for _, n := range c.Lab.Nodes {
		all = append(all, n.Name)
	}
	slices.Sort(all)
	for _, s := range demoServices() {
		m := modeNamed(ms, s.Mode)
		ips, err := c.AwaitIPs(ctx, demoNamespace, s.Name, 2)
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
				_, err := ask(ctx, dial, ip, 80)
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
func labInfo(c *cluster.Cluster, st stateDir, env *labEnv) info {
	cl := c.Lab.Clients[0]
	names := map[string]string{}
	add := func(name string, addrs ...netip.Addr) {
		for _, a := range addrs {
			if a.IsValid() {
				names[a.String()] = name
			}
		}
	}
	for _, h := range c.Lab.Hosts() {
		add(h.Name, h.IPv4.Addr(), h.IPv6.Addr())
		if h.Role == vlan.RoleNode && h.PodCIDRv4.IsValid() {
			// Source NAT towards a local pod picks the node's gateway
			// address on the pod's veth.
			add(h.Name, h.PodCIDRv4.Addr().Next())
		}
	}
	return info{
		PID: os.Getpid(), Started: time.Now(), LabName: c.Lab.Name,
		APIServer: c.API.URL, Kubeconfig: st.kubeconfig(),
		Client:    host{Name: cl.Name, NetNS: cl.NetNS, IPv4: cl.IPv4.Addr().String(), IPv6: cl.IPv6.Addr().String()},
		Names:     names,
		RouterDir: env.RouterDir,
	}
}
