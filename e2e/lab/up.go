package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// upConfig is the launcher's command line.
type upConfig struct {
	state   stateDir
	kind    string // the lab to start
	binDir  string
	repo    string
	ttl     time.Duration // passed to the daemon
	timeout time.Duration // how long startup may take
}

// errInterrupted: the launcher was interrupted; the lab goes on.
var errInterrupted = errors.New("interrupted: the lab goes on starting in the background (make lab-down stops it)")

// up makes sure a lab runs for cfg.state and prints its table: it starts
// a detached daemon and shows its progress, or, when a lab already runs,
// just prints the table again.
func up(ctx context.Context, cfg upConfig, out io.Writer) error {
	unlock, err := cfg.state.lock()
	if err != nil {
		return err
	}
	defer unlock()

	pid := cfg.state.daemon()
	if pid != 0 {
		if in, err := cfg.state.readInfo(); err == nil && in.PID == pid {
			if kindOf(in) != cfg.kind {
				return fmt.Errorf("a %s lab runs (pid %d); make lab-down stops it before a %s lab can start", kindOf(in), pid, cfg.kind)
			}
			fmt.Fprintf(out, "lab: already running (pid %d, up since %s)\n", pid, in.Started.Format(time.DateTime))
			return show(ctx, out, cfg.state, in)
		}
		fmt.Fprintf(out, "lab: a lab is starting (pid %d); following it\n", pid)
	} else {
		if old, _ := cfg.state.readPID(); old != 0 {
			fmt.Fprintf(out, "lab: cleaning up after a lab that is gone (pid %d)\n", old)
		}
		// Also without a pid file: leftovers of dead processes go first.
		if err := down(cfg.state, out); err != nil {
			return fmt.Errorf("cleaning up: %w", err)
		}
		if pid, err = startDaemon(cfg); err != nil {
			return err
		}
		fmt.Fprintf(out, "lab: started (pid %d, log %s)\n", pid, cfg.state.daemonLog())
	}
	in, err := follow(ctx, cfg.state, pid, out, cfg.timeout)
	if errors.Is(err, errInterrupted) {
		return err
	}
	if err != nil {
		fmt.Fprintln(out, "lab: startup failed; tearing down")
		return errors.Join(err, down(cfg.state, out))
	}
	return show(ctx, out, cfg.state, in)
}

// startDaemon starts `lab serve` in a session of its own, detached from
// the terminal and from make, with its output in lab.log.
func startDaemon(cfg upConfig) (int, error) {
	st := cfg.state
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	for _, d := range []string{st.logDir(), st.tmpDir()} {
		if err := os.RemoveAll(d); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(st.tmpRecord(), []byte(st.tmpDir()+"\n"), 0o644); err != nil {
		return 0, err
	}
	if err := os.WriteFile(st.progress(), nil, 0o644); err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(st.daemonLog(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "serve", "-state="+string(st), "-kind="+cfg.kind, "-bin="+cfg.binDir, "-repo="+cfg.repo, "-ttl="+cfg.ttl.String())
	cmd.Stdout, cmd.Stderr = logf, logf // stdin: /dev/null
	// TMPDIR: the API server's directory lands in the state directory,
	// where down finds it even after a crash.
	cmd.Env = append(os.Environ(), "TMPDIR="+st.tmpDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the lab daemon: %w", err)
	}
	pid := cmd.Process.Pid
	// Reap it if it dies while we watch; once we exit, init does.
	go func() { _ = cmd.Wait() }()
	if err := st.writePID(pid); err != nil {
		return 0, err
	}
	return pid, nil
}

// follow prints the daemon's progress until it publishes lab.json, dies,
// or the timeout passes.
func follow(ctx context.Context, st stateDir, pid int, out io.Writer, timeout time.Duration) (info, error) {
	deadline := time.Now().Add(timeout)
	var offset int64
	printNew := func() {
		b, err := os.ReadFile(st.progress())
		if err != nil || int64(len(b)) <= offset {
			return
		}
		chunk := b[offset:]
		// Whole lines only; a partial line waits for the next round.
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			for _, l := range strings.Split(string(chunk[:i]), "\n") {
				fmt.Fprintf(out, "lab: %s\n", l)
			}
			offset += int64(i + 1)
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		printNew()
		if in, err := st.readInfo(); err == nil && in.PID == pid {
			return in, nil
		}
		if !alive(pid) {
			printNew()
			return info{}, fmt.Errorf("the lab daemon exited during startup; last lines of %s:\n%s", st.daemonLog(), tail(st.daemonLog(), 25))
		}
		if time.Now().After(deadline) {
			return info{}, fmt.Errorf("the lab was not ready after %v; see %s", timeout, st.daemonLog())
		}
		select {
		case <-ctx.Done():
			return info{}, errInterrupted
		case <-tick.C:
		}
	}
}

// show prints the table of a ready lab, with fresh requests from the
// client, and how to use the lab. A failed request makes it fail.
func show(ctx context.Context, out io.Writer, st stateDir, in info) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", in.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", in.Kubeconfig, err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		return err
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialIn(ctx, in.Client.NetNS, network, addr)
	}
	v := view{API: cl, RouterDir: in.RouterDir, Names: in.Names}
	rows, err := collect(ctx, v, modes(), askerFor(kindOf(in), dial), 3)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\nLoadBalancer Services; each request is live, from %s (%s, %s):\n\n", kindLine(kindOf(in)), in.Client.Name, in.Client.IPv4, in.Client.IPv6)
	if err := render(out, rows); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nSOURCE-SEEN-BY-POD: with policy Local the pod sees the client itself; with Cluster, a node (source NAT).")
	renderWeights(ctx, out, v, rows)
	example := ""
	for _, r := range rows {
		if r.OK && !strings.Contains(r.IP, ":") {
			example = r.IP
			break
		}
	}
	down := "make lab-down"
	if v := os.Getenv("IRONLB_LAB_DIR"); v != "" {
		down = "IRONLB_LAB_DIR=" + v + " make lab-down"
	}
	fmt.Fprintf(out, "\nkubeconfig: %s\n", in.Kubeconfig)
	fmt.Fprintf(out, "  export KUBECONFIG=%s; kubectl get svc -A\n", in.Kubeconfig)
	fmt.Fprintln(out, "  kubectl get pods -A -o wide; kubectl get ippool,l2advertisement,bgppeer,bgpadvertisement")
	fmt.Fprintln(out, "  kubectl get l2status -A; kubectl get bgpsession")
	if example != "" {
		if kindOf(in) == kindCluster {
			fmt.Fprintf(out, "client: ip netns exec %s curl -s http://%s/\n", in.Client.NetNS, example)
		} else {
			fmt.Fprintf(out, "client: ip netns exec %s bash -c 'exec 3<>/dev/tcp/%s/80; echo hi >&3; head -1 <&3'\n", in.Client.NetNS, example)
		}
	}
	if in.RouterDir != "" {
		fmt.Fprintf(out, "router: vtysh --vty_socket %s -c 'show bgp ipv4 unicast'\n", in.RouterDir)
	}
	logs := st.logDir()
	if in.Logs != "" {
		logs = in.Logs
	}
	fmt.Fprintf(out, "logs:   %s, %s/\n", st.daemonLog(), logs)
	fmt.Fprintf(out, "stop:   %s\n", down)
	failed := 0
	for _, r := range rows {
		if !r.OK {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, len(rows))
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
