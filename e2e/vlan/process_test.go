package vlan

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartLogsSignalsAndWaits(t *testing.T) {
	lab := New(t, Options{Nodes: 1})
	node := lab.Nodes[0]
	logPath := filepath.Join(t.TempDir(), "proc.log")
	// The program reports its namespace's interfaces, then waits for a
	// signal.
	p, err := node.Start(t.Context(), logPath, "sh", "-c", "ip -o link show eth0; echo ready; exec sleep 1000")
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid <= 0 {
		t.Fatalf("pid %d", p.Pid)
	}
	deadline := time.Now().Add(3 * time.Second)
	var log []byte
	for time.Now().Before(deadline) {
		log, _ = os.ReadFile(logPath)
		if strings.Contains(string(log), "ready") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(string(log), node.MAC.String()) {
		t.Fatalf("log does not show node1's eth0 (%s):\n%s", node.MAC, log)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("process ignored SIGTERM")
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Fatalf("Wait = %v, want the SIGTERM exit", err)
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Fatal("signalling an exited process succeeded")
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill of an exited process: %v", err)
	}
	// ip netns exec starts fine and reports a missing program by exiting
	// non-zero, which Wait must pass on.
	if p, err := node.Start(t.Context(), "", "/nonexistent/program"); err == nil {
		if err := p.Wait(); err == nil {
			t.Fatal("a missing program exited successfully")
		}
	}
}
