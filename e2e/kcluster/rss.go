package kcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ironlb/ironlb/e2e/procstat"
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
			mem, err := procstat.ReadMemory(pid)
			if err != nil {
				return nil, err
			}
			out = append(out, mem.RSS)
		}
	}
	return out, nil
}
