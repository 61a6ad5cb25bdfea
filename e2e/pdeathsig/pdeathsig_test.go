package pdeathsig

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The main goroutine keeps the main thread: the runtime never ends that
// thread (a goroutine that returns locked to it leaves it wedged instead),
// so no fork under test may land on it and escape retirement.
func init() { runtime.LockOSThread() }

// retireThreads ends n OS threads: a goroutine that returns while locked
// to its thread takes the thread with it.
func retireThreads(n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
		}()
	}
	wg.Wait()
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// A child started here lives on while the runtime retires threads, and
// the same child forked from a thread that is then retired dies at once:
// the kernel sends Pdeathsig when the forking thread ends.
func TestChildOutlivesRetiredThreads(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	exited, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	retireThreads(64)
	select {
	case err := <-exited:
		t.Fatalf("the child died when threads were retired: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if !alive(cmd.Process.Pid) {
		t.Fatal("the child died when other threads were retired")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil {
		t.Fatal("Wait after SIGKILL returned no error")
	}

	// The kernel's side of it: forked from a locked thread that then ends.
	naive := exec.Command("sleep", "60")
	naive.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		started <- naive.Start()
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- naive.Wait() }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		_ = naive.Process.Kill()
		t.Fatal("a child whose forking thread ended lived on: Pdeathsig does not work here, and the test above proves nothing")
	}
}
