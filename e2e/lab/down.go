package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/e2e/kcluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

const (
	// stopTimeout is how long the daemon gets to tear down after SIGTERM
	// (processes, namespaces, API server: a few seconds usually).
	stopTimeout = 90 * time.Second
	// netnsDir is where iproute2 keeps named network namespaces.
	netnsDir = "/run/netns"
	// shmDir and shmPrefix: etcd's data of e2e/kubeapi servers, with an
	// "owner" file holding the pid of the process that made it.
	shmDir    = "/dev/shm"
	shmPrefix = "ironlb-etcd-"
)

// down stops the lab of st, if one runs, and removes whatever a lab of
// st left behind, also after a crash: its processes, its namespaces, its
// etcd data on tmpfs and its temporary files. Leftovers of other live
// processes (tests running in parallel, another lab) are never touched.
// The caller holds st's lock.
func down(st stateDir, out io.Writer) error {
	pid, err := st.readPID()
	if err != nil {
		fmt.Fprintf(out, "lab: ignoring %v\n", err)
	}
	var errs []error
	if d := st.daemon(); d != 0 {
		procs := descendants(d)
		fmt.Fprintf(out, "lab: stopping the lab (pid %d and %d processes below it)...\n", d, len(procs))
		begin := time.Now()
		if err := syscall.Kill(d, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("SIGTERM to %d: %w", d, err))
		}
		if left := waitGone([]int{d}, stopTimeout); len(left) > 0 {
			fmt.Fprintf(out, "lab: pid %d did not stop within %v: killing it\n", d, stopTimeout)
			// The daemon leads its own session and process group (setsid).
			_ = syscall.Kill(-d, syscall.SIGKILL)
			_ = syscall.Kill(d, syscall.SIGKILL)
			waitGone([]int{d}, 10*time.Second)
		}
		// Its children die with it (Pdeathsig); anything that did not
		// is killed now.
		for _, p := range waitGone(procs, 5*time.Second) {
			fmt.Fprintf(out, "lab: killing leftover process %d %v\n", p, cmdline(p))
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if left := waitGone(procs, 10*time.Second); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes %v of the lab are still running", left))
		}
		fmt.Fprintf(out, "lab: stopped in %v\n", time.Since(begin).Round(100*time.Millisecond))
	}

	// Namespaces of dead owners, this lab's included. A failure to
	// remove other dead processes' leftovers is only reported.
	if pid != 0 && !alive(pid) {
		if ns := namespacesOf(pid); len(ns) > 0 {
			fmt.Fprintf(out, "lab: removing %d network namespaces ilb-%d-*\n", len(ns), pid)
		}
	}
	if err := vlan.Sweep(); err != nil {
		fmt.Fprintf(out, "lab: warning: %v\n", err)
	}
	// A cluster lab's containers and node cgroups; its daemons died with
	// the lab (Pdeathsig), containerd's shims with the namespaces above.
	if err := kcluster.Sweep(); err != nil {
		fmt.Fprintf(out, "lab: warning: %v\n", err)
	}
	if pid != 0 && !alive(pid) {
		if left := cgroupsOf(pid); len(left) > 0 {
			errs = append(errs, fmt.Errorf("cgroups of the lab remain: %v", left))
		}
	}
	if pid != 0 && !alive(pid) {
		if left := namespacesOf(pid); len(left) > 0 {
			errs = append(errs, fmt.Errorf("namespaces of the lab remain: %v", left))
		}
	}
	for _, d := range sweepShm() {
		fmt.Fprintf(out, "lab: removed stale etcd data %s\n", d)
	}
	for _, p := range append(st.tmpDirs(), st.infoFile(), st.kubeconfig(), st.tmpRecord()) {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if pid != 0 && !alive(pid) {
		if err := os.Remove(st.pidFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// namespacesOf lists the network namespaces that vlan made for pid.
func namespacesOf(pid int) []string {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	prefix := fmt.Sprintf("ilb-%d-", pid)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// cgroupsOf lists the node cgroups (in every hierarchy) that a cluster
// lab of pid made.
func cgroupsOf(pid int) []string {
	m, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/ilb-%d-*", pid))
	return m
}

// sweepShm removes the tmpfs etcd directories whose owner process is gone
// and returns them. e2e/kubeapi does the same at its next start; the lab
// does it at once, so that down leaves nothing in memory.
func sweepShm() []string {
	entries, err := os.ReadDir(shmDir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), shmPrefix) {
			continue
		}
		d := filepath.Join(shmDir, e.Name())
		owner, ok := shmOwner(d)
		if !ok || alive(owner) {
			continue
		}
		if os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	return removed
}

// shmOwner reads the pid in dir/owner.
func shmOwner(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		return 0, false // being created right now, or not ours
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}
