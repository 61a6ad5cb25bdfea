package frr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// daemonDir is where Debian installs the FRR daemons.
const daemonDir = "/usr/lib/frr"

// startTimeout bounds how long the daemons may take to come up.
const startTimeout = 20 * time.Second

// Router is FRR running in one lab host.
type Router struct {
	Host *vlan.Host
	// Dir holds the configuration files, sockets, pid files and logs.
	Dir string
	// Options as given, with defaults applied.
	Options Options

	cancel context.CancelFunc
	mu     sync.Mutex
	procs  []*vlan.Process
	closed bool
}

// New starts FRR in host for a test and stops it in t.Cleanup. The
// directory is removed if the test passed; otherwise it is kept and the
// tail of each log is printed.
func New(t testing.TB, host *vlan.Host, opts Options) *Router {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	r, err := Start(ctx, host, opts)
	if err != nil {
		t.Fatalf("frr: %v", err)
	}
	t.Cleanup(func() {
		keep := t.Failed()
		if keep {
			t.Logf("frr %s: kept %s\n%s", host.Name, r.Dir, r.LogTails(40))
		}
		if err := r.close(!keep); err != nil {
			t.Errorf("frr %s: %v", host.Name, err)
		}
	})
	return r
}

// Start starts zebra, bfdd and bgpd in host and waits until bgpd answers.
// ctx bounds the start only. The caller must Close the router.
func Start(ctx context.Context, host *vlan.Host, opts Options) (*Router, error) {
	if host == nil {
		return nil, errors.New("frr: no host")
	}
	if !opts.RouterID.IsValid() {
		opts.RouterID = routerIDFor(host.IPv4)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := Config(host.Name, opts)
	if err != nil {
		return nil, err
	}
	for _, d := range []Daemon{Zebra, BFDD, BGPD} {
		if _, err := os.Stat(filepath.Join(daemonDir, string(d))); err != nil {
			return nil, fmt.Errorf("frr: %s is missing (install Debian's frr package, e.g. hack/install-deps.sh): %w", d, err)
		}
	}
	uid, gid, err := frrUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ironlb-frr-"+host.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("frr: %w", err)
	}
	r := &Router{Host: host, Dir: dir, Options: opts}
	if err := r.writeFiles(cfg, uid, gid); err != nil {
		return nil, errors.Join(err, r.close(true))
	}
	// The daemons live until Close, not until the start context ends.
	pctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if err := r.startDaemons(ctx, pctx); err != nil {
		return nil, errors.Join(fmt.Errorf("frr %s: %w (logs in %s)\n%s", host.Name, err, dir, r.LogTails(20)), r.close(false))
	}
	return r, nil
}

// frrUser looks up the user the daemons switch to.
func frrUser() (uid, gid int, err error) {
	u, err := user.Lookup("frr")
	if err != nil {
		return 0, 0, fmt.Errorf("frr: user frr (created by Debian's frr package): %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("frr: user frr: %w", err)
	}
	return uid, gid, nil
}

// writeFiles writes the configuration files and hands the directory to
// the frr user: the daemons read their files and create their sockets and
// logs there after dropping root.
func (r *Router) writeFiles(cfg Configs, uid, gid int) error {
	if err := os.Chmod(r.Dir, 0o755); err != nil {
		return fmt.Errorf("frr: %w", err)
	}
	files := map[string]string{"zebra.conf": cfg.Zebra, "bfdd.conf": cfg.BFDD, "bgpd.conf": cfg.BGPD}
	for name, text := range files {
		p := filepath.Join(r.Dir, name)
		if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
			return fmt.Errorf("frr: %w", err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("frr: %w", err)
		}
	}
	if err := os.Chown(r.Dir, uid, gid); err != nil {
		return fmt.Errorf("frr: %w", err)
	}
	return nil
}

func (r *Router) path(name string) string { return filepath.Join(r.Dir, name) }

// startDaemons starts zebra first (bfdd and bgpd register with it) and
// waits until every daemon's vty answers and bgpd has its configuration.
func (r *Router) startDaemons(ctx, pctx context.Context) error {
	zserv := r.path("zserv.api")
	common := func(d Daemon) []string {
		return []string{
			"-f", r.path(string(d) + ".conf"),
			"-i", r.path(string(d) + ".pid"),
			"-z", zserv,
			"--vty_socket", r.Dir,
			"--log", "file:" + r.path(string(d)+".log"),
			"--log-level", "debug",
		}
	}
	start := func(d Daemon, extra ...string) error {
		args := append(common(d), extra...)
		p, err := r.Host.Start(pctx, r.path(string(d)+".out"), filepath.Join(daemonDir, string(d)), args...)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.procs = append(r.procs, p)
		r.mu.Unlock()
		return nil
	}
	if err := start(Zebra); err != nil {
		return err
	}
	if err := r.waitFor(ctx, "zebra's API socket", func() error { _, err := os.Stat(zserv); return err }); err != nil {
		return err
	}
	// bfdd's control socket defaults to a path shared by every router on
	// the machine.
	if err := start(BFDD, "--bfdctl", r.path("bfdd.sock")); err != nil {
		return err
	}
	if err := start(BGPD); err != nil {
		return err
	}
	for _, d := range []Daemon{Zebra, BFDD, BGPD} {
		if err := r.waitFor(ctx, string(d)+"'s vty", func() error {
			_, err := r.Exec(ctx, d, "show version")
			return err
		}); err != nil {
			return err
		}
	}
	// bgpd answers before it has read its configuration file.
	return r.waitFor(ctx, "bgpd's configuration", func() error {
		var v struct {
			LocalAS uint32 `json:"localAS"`
		}
		if err := r.JSON(ctx, BGPD, "show bgp ipv4 unicast json", &v); err != nil {
			return err
		}
		if v.LocalAS != r.Options.ASN {
			return fmt.Errorf("local AS is %d, not %d yet", v.LocalAS, r.Options.ASN)
		}
		return nil
	})
}

// waitFor polls check until it succeeds, a daemon exits or ctx ends.
func (r *Router) waitFor(ctx context.Context, what string, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		if p := r.exited(); p != nil {
			return fmt.Errorf("waiting for %s: %s exited: %v", what, filepath.Base(p.Name), p.Wait())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// exited returns a daemon that has exited, if any.
func (r *Router) exited() *vlan.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		select {
		case <-p.Done():
			return p
		default:
		}
	}
	return nil
}

// Close stops the daemons and removes the directory.
func (r *Router) Close() error { return r.close(true) }

func (r *Router) close(removeDir bool) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	procs := r.procs
	r.mu.Unlock()
	var errs []error
	if r.cancel != nil {
		r.cancel()
	}
	for _, p := range procs {
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	if removeDir {
		if err := os.RemoveAll(r.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LogTails returns the last n lines of each daemon's log and output.
func (r *Router) LogTails(n int) string {
	var b strings.Builder
	for _, d := range []Daemon{Zebra, BFDD, BGPD} {
		for _, suffix := range []string{".log", ".out"} {
			data, err := os.ReadFile(r.path(string(d) + suffix))
			if err != nil || len(data) == 0 {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			if len(lines) > n {
				lines = lines[len(lines)-n:]
			}
			fmt.Fprintf(&b, "--- %s%s (last %d lines)\n%s\n", d, suffix, len(lines), strings.Join(lines, "\n"))
		}
	}
	return b.String()
}

// Vtysh runs the real vtysh against the router (for humans and for
// commands the direct vty session cannot run, such as "show
// running-config" across daemons).
func (r *Router) Vtysh(ctx context.Context, commands ...string) ([]byte, error) {
	args := []string{"--vty_socket", r.Dir}
	for _, c := range commands {
		args = append(args, "-c", c)
	}
	out, err := exec.CommandContext(ctx, "vtysh", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("frr %s: vtysh %s: %w: %s", r.Host.Name, strings.Join(commands, "; "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}
