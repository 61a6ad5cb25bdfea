package kcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// ownedCgroup matches the nodes' cgroup roots, "<lab name>-<node>" with the
// lab's name "ilb-<pid>-<id>" (e2e/vlan), and captures the owner's pid.
var ownedCgroup = regexp.MustCompile(`^ilb-([0-9]+)-[a-z0-9-]+-node[0-9]+$`)

// Sweep removes the nodes' cgroups of clusters whose process is gone (a
// test binary or lab daemon that was killed before its teardown), after
// killing every container still running in them. Their daemons died with
// the owner (Pdeathsig), containerd's shims with the nodes' network
// namespaces (vlan.Sweep), and the mount namespace with its last process;
// the cgroups and the containers in them are what is left. Cgroups of live
// processes, other tests' clusters included, are left alone.
func Sweep() error {
	entries, err := os.ReadDir(filepath.Join(cgroupFS, "pids"))
	if err != nil {
		return fmt.Errorf("kcluster: sweep: %w", err)
	}
	var errs []error
	for _, e := range entries {
		m := ownedCgroup.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || vlan.PIDAlive(pid) {
			continue
		}
		if err := removeCgroupRoot("/" + e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kcluster: sweep: %w", err)
	}
	return nil
}
