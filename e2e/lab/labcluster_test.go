package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeLabCluster runs `make lab LAB=cluster` and `make lab-down` for
// real: the demo on a cluster of kubelets with IronLB installed by `helm
// install` of its chart. Every demo VIP answers the client from a pod of
// its Deployment as the process lab's do, the controller and the speakers
// run as the chart's pods, and the daemon, on SIGTERM, leaves no process,
// container, cgroup, mount, namespace or file behind. (make lab-down after
// a SIGKILLed daemon, whose leftovers kcluster.Sweep and vlan.Sweep
// remove, was checked by hand: a second cluster costs minutes of CI.)
func TestMakeLabCluster(t *testing.T) {
	root, dir, st, linksBefore := labTestSetup(t)

	begin := time.Now()
	out, err := makeIn(root, dir, 20*time.Minute, "lab", "LAB=cluster")
	t.Logf("make lab LAB=cluster (%v):\n%s", time.Since(begin).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("make lab LAB=cluster: %v\nlab.log:\n%s", err, tail(st.daemonLog(), 40))
	}
	checkTable(t, out, clusterPod)
	if !strings.Contains(out, "Cluster lab:") {
		t.Error("the output does not say that the cluster lab runs")
	}
	in, err := st.readInfo()
	if err != nil || in.Kind != kindCluster {
		t.Fatalf("lab.json: kind %q (%v), want %s", in.Kind, err, kindCluster)
	}

	// IronLB runs as the chart's pods: two controllers, a speaker per node.
	kubectl := kubectlAs(t, root, st.kubeconfig())
	pods := kubectl("get", "pods", "-n", chartNamespace, "-l", "app.kubernetes.io/name=ironlb", "--no-headers")
	if n := strings.Count(pods, " Running "); n != 5 {
		t.Errorf("%d IronLB pods Running, want 2 controllers and 3 speakers:\n%s", n, pods)
	}
	if sessions := kubectl("get", "bgpsession", "--no-headers"); strings.Count(sessions, "Established") != 6 {
		t.Errorf("want 6 Established BGP sessions:\n%s", sessions)
	}
	// `make lab` with the other kind refuses while this one runs.
	if out, err := makeIn(root, dir, 5*time.Minute, "lab"); err == nil || !strings.Contains(out, "a cluster lab runs") {
		t.Errorf("make lab (process) beside a running cluster lab: %v\n%s", err, out)
	}

	pid := in.PID
	procs := descendants(pid)
	containers := cgroupProcs(pid)
	if len(containers) == 0 || len(cgroupsOf(pid)) == 0 {
		t.Fatalf("no container processes (%v) or node cgroups (%v) while the lab runs", containers, cgroupsOf(pid))
	}
	// SIGTERM, as lab-down and the TTL end it: the daemon alone removes
	// everything, before lab-down could sweep a dead daemon's leftovers.
	begin = time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if left := waitGone([]int{pid}, stopTimeout); len(left) > 0 {
		t.Fatalf("the daemon did not stop within %v of SIGTERM", stopTimeout)
	}
	// Containers may take a moment to be reaped by the kernel.
	waitGone(containers, 10*time.Second)
	t.Logf("the daemon stopped %v after SIGTERM", time.Since(begin).Round(time.Millisecond))
	if log := tail(st.daemonLog(), 30); !strings.Contains(log, "lab stopped") || strings.Contains(log, "stop:") {
		t.Errorf("the daemon did not stop cleanly; lab.log ends:\n%s", log)
	}
	checkNothingLeft(t, st, pid, append(procs, containers...), linksBefore)
	checkClusterGone(t, st, pid)

	// Nothing left for lab-down to do.
	out, err = makeIn(root, dir, 3*time.Minute, "lab-down")
	if err != nil || strings.Contains(out, "removing") || strings.Contains(out, "killing") {
		t.Errorf("make lab-down after the daemon stopped: %v\n%s", err, out)
	}
}

// cgroupProcs lists the processes in the node cgroups of the cluster lab
// of pid: containerd's containers, at any depth below the nodes' roots.
func cgroupProcs(pid int) []int {
	var out []int
	roots, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/pids/ilb-%d-*", pid))
	for _, r := range roots {
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				var n int
				if _, err := fmt.Sscan(f, &n); err == nil {
					out = append(out, n)
				}
			}
			return nil
		})
	}
	return out
}

// checkClusterGone: no cgroup, mount or process of the cluster lab (its
// directory is the daemon's TMPDIR) is left.
func checkClusterGone(t *testing.T, st stateDir, pid int) {
	t.Helper()
	if left := cgroupsOf(pid); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), st.tmpDir()) {
		t.Errorf("mounts under %s left in the host's mount namespace", st.tmpDir())
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscan(e.Name(), &p); err != nil {
			continue
		}
		if args := cmdline(p); strings.Contains(strings.Join(args, " "), st.tmpDir()) {
			t.Errorf("process %d %v refers to the lab's temporary directory", p, args)
		}
	}
}
