package vlan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// namespace is one named network namespace this package created, with an
// open handle (for setns) and a netlink socket inside it.
type namespace struct {
	name string
	fd   netns.NsHandle
	nl   *netlink.Handle
}

// createNamespace adds a named namespace with `ip netns add` (which also
// sets up /run/netns the way every iproute2 tool expects) and opens it. On
// error nothing is left behind.
func createNamespace(ctx context.Context, name string) (*namespace, error) {
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	n := &namespace{name: name, fd: -1}
	fd, err := netns.GetFromName(name)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open netns %s: %w", name, err), n.close())
	}
	n.fd = fd
	nl, err := netlink.NewHandleAt(fd)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("netlink in netns %s: %w", name, err), n.close())
	}
	n.nl = nl
	if err := n.linkUp("lo"); err != nil {
		return nil, errors.Join(err, n.close())
	}
	return n, nil
}

// close kills every process still inside the namespace (daemons that
// detached from us), closes our handles and deletes the name. Interfaces
// inside go away with the namespace, and so do their veth peers elsewhere.
func (n *namespace) close() error {
	if n == nil {
		return nil
	}
	var errs []error
	if err := killProcessesIn(filepath.Join(netnsDir, n.name)); err != nil {
		errs = append(errs, err)
	}
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	if n.fd >= 0 {
		if err := n.fd.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close netns %s: %w", n.name, err))
		}
		n.fd = -1
	}
	if err := deleteNamespace(n.name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteNamespace does what `ip netns del` does: detach the bind mount that
// keeps the namespace alive and remove the file. A missing name is fine.
func deleteNamespace(name string) error {
	p := filepath.Join(netnsDir, name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// killProcessesIn sends SIGKILL to every other process whose network
// namespace is the one bound at nsPath (like `ip netns pids`).
func killProcessesIn(nsPath string) error {
	var want unix.Stat_t
	if err := unix.Stat(nsPath, &want); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("stat %s: %w", nsPath, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var errs []error
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue // exited meanwhile, or a kernel thread
		}
		if st.Dev != want.Dev || st.Ino != want.Ino {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill pid %d in %s: %w", pid, nsPath, err))
		}
	}
	return errors.Join(errs...)
}

// do runs fn with the calling code's network namespace switched to n, on a
// fresh goroutine locked to its OS thread, so the caller's own thread never
// changes namespace. Sockets that fn opens belong to n for their whole life.
// fn must not rely on goroutines it starts: they run on other threads, in
// the original namespace.
//
// If the thread cannot be switched back, it stays locked and ends with the
// goroutine, so the Go scheduler never reuses a thread in the wrong
// namespace. A panic in fn is re-raised in the caller.
func (n *namespace) do(fn func() error) error {
	type result struct {
		err    error
		panic  any
		stack  []byte
		failed bool
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("netns %s: get current namespace: %w", n.name, err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(n.fd); err != nil {
			// setns failed, so the thread is still where it was.
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("netns %s: enter: %w", n.name, err)}
			return
		}
		var res result
		func() {
			defer func() {
				if p := recover(); p != nil {
					res = result{panic: p, stack: debug.Stack(), failed: true}
				}
			}()
			res.err = fn()
		}()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it exits with this goroutine.
			res.err = errors.Join(res.err, fmt.Errorf("netns %s: restore original namespace: %w", n.name, err))
			ch <- res
			return
		}
		runtime.UnlockOSThread()
		ch <- res
	}()
	res := <-ch
	if res.failed {
		panic(fmt.Sprintf("vlan: panic inside netns %s: %v\n%s", n.name, res.panic, res.stack))
	}
	return res.err
}

// command builds `ip netns exec NAME name args...`. ip execs the program
// in place, so the command's PID is the program's.
func (n *namespace) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// exec runs a command inside the namespace and returns its combined output;
// the error carries the output too.
func (n *namespace) exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := n.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netns %s: %s %s: %w: %s", n.name, name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// setSysctls writes /proc/sys entries from inside the namespace; /proc/sys/net
// shows the namespace of the thread that opens it. Keys are paths below
// /proc/sys ("net/ipv4/ip_forward"); they are written in order.
func (n *namespace) setSysctls(kv [][2]string) error {
	return n.do(func() error {
		for _, e := range kv {
			p := filepath.Join("/proc/sys", e[0])
			if err := os.WriteFile(p, []byte(e[1]), 0o644); err != nil {
				return fmt.Errorf("netns %s: sysctl %s=%s: %w", n.name, e[0], e[1], err)
			}
		}
		return nil
	})
}

// linkUp sets an interface in the namespace up.
func (n *namespace) linkUp(name string) error {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netns %s: find link %s: %w", n.name, name, err)
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("netns %s: set %s up: %w", n.name, name, err)
	}
	return nil
}
