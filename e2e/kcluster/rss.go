package kcluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// RSS returns the resident set size in bytes of every process named comm
// (as in /proc/PID/comm, e.g. "speaker") running in a container on any
// node: the processes in the nodes' cgroup trees.
func (c *Cluster) RSS(comm string) ([]int64, error) {
	var out []int64
	for _, n := range c.nodes {
		for _, pid := range cgroupPids(filepath.Join(cgroupFS, "pids", n.cgroupRoot)) {
			name, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil || strings.TrimSpace(string(name)) != comm {
				continue
			}
			rss, err := vmRSS(pid)
			if err != nil {
				return nil, err
			}
			out = append(out, rss)
		}
	}
	return out, nil
}

// vmRSS reads VmRSS from /proc/PID/status.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS", pid)
}
