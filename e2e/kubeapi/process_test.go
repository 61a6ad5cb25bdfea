package kubeapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain spaces, so cut at ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

func waitDead(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still running 10 s later", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStopEndsProcessesAndRemovesDirs(t *testing.T) {
	t.Parallel()
	s, err := StartProcess(context.Background(), Options{SkipCRDs: true})
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	pids := map[string]int{"etcd": s.etcd.cmd.Process.Pid, "kube-apiserver": s.apiserver.cmd.Process.Pid}
	dirs := append([]string(nil), s.removable...)
	if len(dirs) == 0 {
		t.Fatal("server has no directories to remove")
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after Stop", name, pid)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Stop (stat: %v)", d, err)
		}
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

const pdeathsigChildEnv = "IRONLB_KUBEAPI_PDEATHSIG_CHILD"

// childReport is what the child test process prints about its server.
type childReport struct {
	EtcdPID, APIServerPID int
	Dirs                  []string
}

// TestProcessesDieWithTheirParent runs this test binary again as a child
// that starts a server, kills the child with SIGKILL (so no cleanup runs),
// and checks that Pdeathsig took etcd and kube-apiserver with it.
func TestProcessesDieWithTheirParent(t *testing.T) {
	if os.Getenv(pdeathsigChildEnv) == "1" {
		runPdeathsigChild(t)
		return
	}
	t.Parallel()

	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesDieWithTheirParent$", "-test.count=1")
	cmd.Env = append(os.Environ(), pdeathsigChildEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child: %v", err)
	}
	defer cmd.Process.Kill()

	var rep childReport
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if js, ok := strings.CutPrefix(line, "KUBEAPI-CHILD "); ok {
			if err := json.Unmarshal([]byte(js), &rep); err != nil {
				t.Fatalf("child report %q: %v", js, err)
			}
			break
		}
		lines = append(lines, line)
	}
	if rep.EtcdPID == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not report a server; output:\n%s\n%s", strings.Join(lines, "\n"), stderr.String())
	}
	// The child was killed, so its directories are left for us.
	t.Cleanup(func() {
		for _, d := range rep.Dirs {
			os.RemoveAll(d)
		}
	})

	if !alive(rep.EtcdPID) || !alive(rep.APIServerPID) {
		t.Fatalf("server processes not running while the child lives (etcd %v, apiserver %v)", alive(rep.EtcdPID), alive(rep.APIServerPID))
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("killing child: %v", err)
	}
	cmd.Wait()
	waitDead(t, "etcd", rep.EtcdPID)
	waitDead(t, "kube-apiserver", rep.APIServerPID)
}

func runPdeathsigChild(t *testing.T) {
	s, err := StartProcess(context.Background(), Options{SkipCRDs: true})
	if err != nil {
		t.Fatalf("StartProcess: %v", err)
	}
	defer s.Stop() // only if the parent fails to kill us
	js, err := json.Marshal(childReport{
		EtcdPID:      s.etcd.cmd.Process.Pid,
		APIServerPID: s.apiserver.cmd.Process.Pid,
		Dirs:         s.removable,
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("KUBEAPI-CHILD %s\n", js)
	// Keep goroutines busy so the runtime has reason to start and retire
	// threads: Pdeathsig must survive that (see startProcess).
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		done := make(chan struct{})
		for range 8 {
			go func() { time.Sleep(time.Millisecond); done <- struct{}{} }()
		}
		for range 8 {
			<-done
		}
	}
}
