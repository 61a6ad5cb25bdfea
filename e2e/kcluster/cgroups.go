package kcluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const cgroupFS = "/sys/fs/cgroup"

// cgroupV1 are the hierarchies a kubelet with the cgroupfs driver expects
// its cgroupRoot in; "unified" is where it also creates one on a hybrid
// host.
var cgroupV1 = []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"}

// makeCgroupRoot creates root (e.g. "/ilb-123-abc-node1") in every v1
// hierarchy; cpuset needs cpus and mems copied from its parent before
// anything can join it.
func makeCgroupRoot(root string) error {
	for _, h := range cgroupV1 {
		d := filepath.Join(cgroupFS, h, root)
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cgroup %s: %w", d, err)
		}
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := os.ReadFile(filepath.Join(cgroupFS, "cpuset", f))
		if err != nil {
			return fmt.Errorf("cgroup cpuset: %w", err)
		}
		if err := os.WriteFile(filepath.Join(cgroupFS, "cpuset", root, f), v, 0o644); err != nil {
			return fmt.Errorf("cgroup cpuset %s %s: %w", root, f, err)
		}
	}
	return nil
}

// removeCgroupRoot kills every process left in root's tree (containers
// whose shim is gone), then removes its cgroups deepest first in every
// hierarchy, unified included.
func removeCgroupRoot(root string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := cgroupPids(filepath.Join(cgroupFS, "pids", root))
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v survive SIGKILL", root, pids)
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var errs []error
	for _, h := range append(cgroupV1, "unified") {
		top := filepath.Join(cgroupFS, h, root)
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := rmdirRetry(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirRetry removes a cgroup, retrying while the kernel still counts a
// just-killed process in it (EBUSY).
func rmdirRetry(d string) error {
	var err error
	for range 100 {
		if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rmdir cgroup %s: %w", d, err)
}

// cgroupPids lists the processes in a cgroup and its descendants.
func cgroupPids(top string) []int {
	var pids []int
	_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}
