package vlan

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a crashing lab owner (TestMain).
const helperEnv = "IRONLB_VLAN_CRASH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

// crashHelper builds a lab, starts a process in it, reports both and waits
// to be killed, so its parent can check what a crash leaves behind.
func crashHelper() int {
	lab, err := Start(context.Background(), Options{Nodes: 1, ID: "crash"})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	p, err := lab.Nodes[0].Start(context.Background(), "", "sleep", "1000")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY", lab.Name, p.Pid)
	select {}
}

// waitDead waits up to d for pid to disappear.
func waitDead(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !PIDAlive(pid) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return !PIDAlive(pid)
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	requireRoot(t)
	before := netnsNames(t, "")
	var labName string
	var started, detached int
	var stopped *Process
	t.Run("lab", func(t *testing.T) {
		lab := New(t, Options{Nodes: 2, Router: true})
		labName = lab.Name
		node := lab.Nodes[0]
		if _, err := lab.AddPod(node, "pod", netip.Addr{}, netip.Addr{}); err != nil {
			t.Fatal(err)
		}
		p, err := node.Start(t.Context(), t.TempDir()+"/sleep.log", "sleep", "1000")
		if err != nil {
			t.Fatal(err)
		}
		started = p.Pid
		// A daemon that left our process group and session: only the
		// namespace scan in Close can find it.
		out, err := node.Exec(t.Context(), "sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo $!")
		if err != nil {
			t.Fatal(err)
		}
		if detached, err = strconv.Atoi(strings.TrimSpace(string(out))); err != nil {
			t.Fatalf("pid %q: %v", out, err)
		}
		// A process stopped through its own context.
		ctx, cancel := context.WithCancel(t.Context())
		stopped, err = lab.Clients[0].Start(ctx, "", "sleep", "1000")
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case <-stopped.Done():
		case <-time.After(3 * time.Second):
			t.Fatal("process still running after its context was cancelled")
		}
		if err := lab.Nodes[1].ForwardTo(t.Context(), "127.0.0.1:6443", "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
		if _, err := lab.Capture(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		if got := netnsNames(t, labName); len(got) != 6 {
			t.Fatalf("lab namespaces %v, want 6 (lan, router, 2 nodes, client, pod)", got)
		}
	})
	if left := netnsNames(t, labName); len(left) != 0 {
		t.Errorf("namespaces left after cleanup: %v", left)
	}
	after := netnsNames(t, "")
	for _, n := range after {
		if !contains(before, n) && strings.HasPrefix(n, fmt.Sprintf("%s-%d-", marker, os.Getpid())) {
			t.Errorf("new namespace %s of this process after cleanup", n)
		}
	}
	if !waitDead(started, 2*time.Second) {
		t.Errorf("started process %d survived the lab", started)
	}
	if !waitDead(detached, 2*time.Second) {
		t.Errorf("detached process %d survived the lab", detached)
	}
	if stopped.Wait() == nil {
		t.Error("a killed process reported success")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSweepRemovesDeadOwnersOnly(t *testing.T) {
	requireRoot(t)
	ctx := ctxFor(t, 10*time.Second)
	// A PID that surely belonged to a process that is gone now.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if PIDAlive(dead) {
		t.Fatalf("pid %d still alive", dead)
	}
	deadName := fmt.Sprintf("%s-%d-sweeptest-node1", marker, dead)
	liveName := fmt.Sprintf("%s-%d-sweeptest-node1", marker, os.Getpid())
	foreign := "sweeptest-foreign-1"
	for _, n := range []string{deadName, liveName, foreign} {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "add", n).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", n, err, out)
		}
		t.Cleanup(func() { _ = deleteNamespace(n) })
	}
	if err := Sweep(); err != nil {
		t.Fatal(err)
	}
	if got := netnsNames(t, deadName); len(got) != 0 {
		t.Errorf("Sweep left %s of dead pid %d", deadName, dead)
	}
	for _, n := range []string{liveName, foreign} {
		if got := netnsNames(t, n); len(got) != 1 {
			t.Errorf("Sweep removed %s, which it does not own or whose owner lives", n)
		}
	}
}

func TestCrashedOwnerLeavesNoProcessAndSweepCleansUp(t *testing.T) {
	requireRoot(t)
	ctx := ctxFor(t, 20*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	// If this test binary dies, the helper must not linger.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("helper: %v (%q)", err, line)
	}
	var labName string
	var child int
	if _, err := fmt.Sscanf(line, "READY %s %d", &labName, &child); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("helper said %q: %v", line, err)
	}
	if !strings.HasPrefix(labName, fmt.Sprintf("%s-%d-", marker, cmd.Process.Pid)) {
		t.Errorf("lab name %s does not carry the owner's pid %d", labName, cmd.Process.Pid)
	}
	// The owner dies without any cleanup.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !waitDead(child, 3*time.Second) {
		t.Errorf("process %d started in the lab outlived its owner (Pdeathsig)", child)
	}
	if got := netnsNames(t, labName); len(got) != 3 {
		t.Fatalf("crashed lab left %v, want its 3 namespaces (lan, node1, client1)", got)
	}
	if err := Sweep(); err != nil {
		t.Fatal(err)
	}
	if got := netnsNames(t, labName); len(got) != 0 {
		t.Fatalf("Sweep left %v", got)
	}
}
