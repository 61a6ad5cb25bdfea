package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMakeLab runs `make lab` and `make lab-down` for real, from the
// repository, with a state directory of its own (IRONLB_LAB_DIR) so it
// neither meets a developer's lab nor other tests' labs: namespaces carry
// the daemon's pid, the API server takes free ports.
func TestMakeLab(t *testing.T) {
	root, dir, st, linksBefore := labTestSetup(t)

	begin := time.Now()
	out, err := makeIn(root, dir, 15*time.Minute, "lab")
	t.Logf("make lab (%v):\n%s", time.Since(begin).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("make lab: %v\nlab.log:\n%s", err, tail(st.daemonLog(), 40))
	}
	client := checkTable(t, out, processPod)
	checkWeights(t, out)

	// The printed kubeconfig works with kubectl.
	m := regexp.MustCompile(`(?m)^kubeconfig: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("make lab printed no kubeconfig path")
	}
	if m[1] != st.kubeconfig() {
		t.Errorf("kubeconfig %s, want %s in the state directory", m[1], st.kubeconfig())
	}
	kubectl := kubectlAs(t, root, m[1])
	svcs := kubectl("get", "svc", "-A")
	for _, r := range mustParse(t, out) {
		if !strings.Contains(svcs, r.IP) {
			t.Errorf("kubectl get svc -A does not show %s of %s:\n%s", r.IP, r.Service, svcs)
		}
	}
	// The API agrees with the router as soon as make lab returns: three
	// nodes, two sessions each (IPv4, IPv6).
	if sessions := kubectl("get", "bgpsession", "--no-headers"); strings.Count(sessions, "Established") != 6 {
		t.Errorf("want 6 Established BGP sessions:\n%s", sessions)
	}

	// The announcing speakers check their layer 2 addresses answer, and
	// ironlbctl status shows it.
	l2 := 0
	for _, r := range mustParse(t, out) {
		if r.Mode == "L2" {
			l2++
		}
	}
	checkAnswering(t, kubectl, filepath.Join(root, "bin", "ironlbctl"), m[1], l2)

	pid, err := st.readPID()
	if err != nil || pid == 0 || !isDaemon(pid, st) {
		t.Fatalf("no lab daemon in %s (pid %d, %v)", st.pidFile(), pid, err)
	}
	procs := descendants(pid)
	// etcd, kube-apiserver, the controller, three speakers.
	if len(procs) < 6 {
		t.Fatalf("the lab runs %d processes, want at least 6: %v", len(procs), procs)
	}
	if len(namespacesOf(pid)) == 0 {
		t.Fatalf("no namespace ilb-%d-* while the lab runs", pid)
	}

	// A second `make lab` shows the running lab again.
	begin = time.Now()
	out, err = makeIn(root, dir, 5*time.Minute, "lab")
	t.Logf("make lab again (%v):\n%s", time.Since(begin).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("make lab with a lab running: %v", err)
	}
	if !strings.Contains(out, fmt.Sprintf("already running (pid %d", pid)) {
		t.Error("the second make lab did not say that the lab already runs")
	}
	if again := checkTable(t, out, processPod); again != client {
		t.Errorf("client %s, then %s", client, again)
	}

	begin = time.Now()
	out, err = makeIn(root, dir, 3*time.Minute, "lab-down")
	t.Logf("make lab-down (%v):\n%s", time.Since(begin).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("make lab-down: %v", err)
	}
	checkNothingLeft(t, st, pid, procs, linksBefore)

	// Idempotent: nothing to stop is fine.
	if out, err := makeIn(root, dir, 3*time.Minute, "lab-down"); err != nil {
		t.Fatalf("second make lab-down: %v\n%s", err, out)
	}
}

// processPod: the process lab's pods have the names the demo gives them.
func processPod(s demoService, pod string) bool {
	return slices.ContainsFunc(s.Pods, func(p demoPod) bool { return p.Name == pod })
}

// clusterPod: the cluster lab's pods belong to the Deployment named
// after the Service ("web-<replicaset hash>-<suffix>").
func clusterPod(s demoService, pod string) bool {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(s.Name) + `-[a-z0-9]+-[a-z0-9]+$`).MatchString(pod)
}

// labTestSetup is the start of a test of `make lab`: the repository, a
// state directory of the test's own (IRONLB_LAB_DIR) so it neither meets a
// developer's lab nor other tests' labs, the host's interfaces before, and
// a `make lab-down` when the test ends, whatever happened.
func labTestSetup(t *testing.T) (root, dir string, st stateDir, linksBefore []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the lab needs root (network namespaces, nftables): run the tests as root")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	linksBefore = hostLinks(t)
	t.Cleanup(func() {
		if out, err := makeIn(root, dir, 3*time.Minute, "lab-down"); err != nil {
			t.Errorf("cleanup: make lab-down: %v\n%s", err, out)
		}
	})
	return root, dir, stateDir(dir), linksBefore
}

// kubectlAs returns a kubectl of the repository's tools with kubeconfig;
// a failure fails the test.
func kubectlAs(t *testing.T, root, kubeconfig string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(root, ".tools", "bin", "kubectl"), args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
}

// checkTable checks that every Service IP of the demo answered, from a
// pod of that Service (podOf), announced as its mode does it, with the
// client address kept by Local and replaced by a node's by Cluster; it
// returns the client's name.
func checkTable(t *testing.T, out string, podOf func(s demoService, pod string) bool) string {
	t.Helper()
	m := regexp.MustCompile(`each request is live, from (\S+) \((\S+), (\S+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no client line above the table")
	}
	client := m[1]
	rows := mustParse(t, out)
	ms := modes()
	demo := map[string]demoService{}
	for _, s := range demoServices() {
		demo[demoNamespace+"/"+s.Name] = s
	}
	if len(rows) != 2*len(demo) {
		t.Errorf("%d rows, want one per family of each of the %d demo Services", len(rows), len(demo))
	}
	perService := map[string][]netip.Addr{}
	for _, r := range rows {
		what := r.Service + " " + r.IP
		s, ok := demo[r.Service]
		if !ok {
			t.Errorf("%s: not a demo Service", what)
			continue
		}
		if !r.OK {
			t.Errorf("%s: the request failed", what)
			continue
		}
		ip, err := netip.ParseAddr(r.IP)
		if err != nil {
			t.Errorf("%s: bad IP", what)
			continue
		}
		perService[r.Service] = append(perService[r.Service], ip)
		md := modeNamed(ms, s.Mode)
		if r.Mode != md.Name() || r.Pool != md.Pool().Name {
			t.Errorf("%s: mode %s pool %s, want %s from %s", what, r.Mode, r.Pool, md.Name(), md.Pool().Name)
		}
		inPool := false
		for _, a := range md.Pool().Spec.Addresses {
			inPool = inPool || netip.MustParsePrefix(a).Contains(ip)
		}
		if !inPool {
			t.Errorf("%s: outside pool %s %v", what, md.Pool().Name, md.Pool().Spec.Addresses)
		}
		podNodes := s.podNodes()
		if !podOf(s, r.Pod) {
			t.Errorf("%s: answered by %s, not a pod of %s", what, r.Pod, s.Name)
		}
		_, who, _ := strings.Cut(r.Source, " ")
		if s.Local && who != "("+client+")" {
			t.Errorf("%s (Local): the pod saw %s, want the client %s", what, r.Source, client)
		}
		if !s.Local && !strings.HasPrefix(who, "(node") {
			t.Errorf("%s (Cluster): the pod saw %s, want a node (source NAT)", what, r.Source)
		}
		switch {
		case r.Mode == "L2" && s.Local:
			if len(r.Announcers) != 1 || !slices.Contains(podNodes, r.Announcers[0]) {
				t.Errorf("%s: announced by %v, want one node of %v", what, r.Announcers, podNodes)
			}
		case r.Mode == "L2":
			if len(r.Announcers) != 1 {
				t.Errorf("%s: announced by %v, want one node", what, r.Announcers)
			}
		case r.Mode == "BGP" && s.Local:
			if !slices.Equal(r.Announcers, podNodes) {
				t.Errorf("%s: FRR routes to %v, want the nodes with a pod: %v", what, r.Announcers, podNodes)
			}
		case r.Mode == "BGP":
			if want := []string{"node1", "node2", "node3"}; !slices.Equal(r.Announcers, want) {
				t.Errorf("%s: FRR routes to %v, want %v", what, r.Announcers, want)
			}
		default:
			t.Errorf("%s: mode %q", what, r.Mode)
		}
	}
	for svc := range demo {
		ips := perService[svc]
		if len(ips) != 2 || ips[0].Is6() == ips[1].Is6() {
			t.Errorf("%s answered on %v, want one IPv4 and one IPv6 address", svc, ips)
		}
	}
	return client
}

func mustParse(t *testing.T, out string) []row {
	t.Helper()
	rows, err := parseTable(out)
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rows) == 0 {
		t.Fatalf("empty table:\n%s", out)
	}
	return rows
}

// checkNothingLeft: no process, namespace, tmpfs directory, interface or
// file of the stopped lab remains.
func checkNothingLeft(t *testing.T, st stateDir, pid int, procs []int, linksBefore []string) {
	t.Helper()
	if alive(pid) {
		t.Errorf("the lab daemon %d still runs", pid)
	}
	for _, p := range procs {
		if alive(p) {
			t.Errorf("process %d %v of the lab still runs", p, cmdline(p))
		}
	}
	// Processes started from the state directory (binaries, kubeconfigs).
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscan(e.Name(), &p); err != nil || p == os.Getpid() {
			continue
		}
		if args := cmdline(p); strings.Contains(strings.Join(args, " "), string(st)) {
			t.Errorf("process %d %v refers to the lab's directory", p, args)
		}
	}
	if ns := namespacesOf(pid); len(ns) > 0 {
		t.Errorf("namespaces left: %v", ns)
	}
	shm, _ := filepath.Glob(filepath.Join(shmDir, shmPrefix+"*"))
	for _, d := range shm {
		if owner, ok := shmOwner(d); ok && owner == pid {
			t.Errorf("etcd data of the lab left in %s", d)
		}
	}
	for _, f := range []string{st.pidFile(), st.infoFile(), st.kubeconfig(), st.tmpDir()} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left (%v)", f, err)
		}
	}
	for _, l := range hostLinks(t) {
		if !slices.Contains(linksBefore, l) {
			t.Errorf("interface %s appeared in the host namespace", l)
		}
	}
}

// hostLinks lists the interfaces of this (the host's) network namespace.
func hostLinks(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
		}
	}
	return names
}

// makeIn runs make with args (a target, variables) in the repository with
// the lab's state in dir. The environment of an enclosing make (`make
// test`) is dropped: its jobserver descriptors do not reach this process.
func makeIn(root, dir string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory", "-C", root}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "IRONLB_LAB_DIR", "IRONLB_LAB_TTL", "LAB":
			continue
		}
		env = append(env, kv)
	}
	// The TTL stops the lab by itself should this test die before its
	// cleanup (a timeout kills the test binary outright).
	cmd.Env = append(env, "IRONLB_LAB_DIR="+dir, "IRONLB_LAB_TTL=20m")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkAnswering waits until every ServiceL2Status says its address
// answers (the announcing speaker's reachability check) and then finds
// "yes" in the ANSWERING column of `ironlbctl status` for as many rows as
// there are layer 2 addresses in the lab's table (want).
func checkAnswering(t *testing.T, kubectl func(args ...string) string, ironlbctl, kubeconfig string, want int) {
	t.Helper()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for {
		last = kubectl("get", "servicel2status", "-A", "-o",
			`jsonpath={range .items[*]}{.status.ip}={.status.conditions[?(@.type=="Answering")].status}{"\n"}{end}`)
		lines := strings.Fields(last)
		answering := 0
		for _, l := range lines {
			if strings.HasSuffix(l, "=True") {
				answering++
			}
		}
		if len(lines) > 0 && answering == len(lines) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every layer 2 address answers after 30 s (ip=Answering):\n%s", last)
		}
		time.Sleep(500 * time.Millisecond)
	}
	out, err := exec.Command(ironlbctl, "status", "--kubeconfig", kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("ironlbctl status: %v\n%s", err, out)
	}
	yes := 0
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == "yes" {
			yes++
		}
	}
	if want == 0 || yes < want {
		t.Errorf("ironlbctl status shows %d rows answering \"yes\", want the lab's %d layer 2 addresses:\n%s", yes, want, out)
	}
}

// checkWeights finds the router's weights for both addresses of the BGP
// Local Service, whose pods are one on node1 and two on node2: node2's
// weight is twice node1's, within zebra's rounding.
func checkWeights(t *testing.T, out string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s+demo/bgp-local (\S+) weights node1=(\d+) node2=(\d+)$`)
	m := re.FindAllStringSubmatch(out, -1)
	if len(m) != 2 {
		t.Fatalf("want the router's weights for both addresses of demo/bgp-local, found %d lines:\n%s", len(m), out)
	}
	for _, l := range m {
		var n1, n2 int
		fmt.Sscan(l[2], &n1)
		fmt.Sscan(l[3], &n2)
		if ratio := float64(n2) / float64(max(n1, 1)); n1 == 0 || ratio < 1.8 || ratio > 2.2 {
			t.Errorf("%s: router weights node1=%d node2=%d, want node2 twice node1 (pods 1 and 2)", l[1], n1, n2)
		}
	}
}
