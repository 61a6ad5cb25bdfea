// Package pdeathsig starts a test's long-running child processes so that
// they die with the test binary, and not before.
package pdeathsig

import (
	"os/exec"
	"runtime"
	"syscall"
)

// Start starts cmd with Pdeathsig=SIGKILL, so it never outlives the test
// binary, even one killed with SIGKILL. The kernel sends that signal when
// the *thread* that forked the child ends, not the process, and the Go
// runtime ends a thread whose goroutine returns while locked to it (as
// the goroutine that waits for another such child does when that child
// exits), so a child forked from just any thread can be killed in
// mid-run: its thread may be the one another goroutine locks later. The
// fork happens on a goroutine locked to its thread that stays alive, in
// Wait, for as long as the child does. The channel receives Wait's error
// once the child has exited and been reaped.
func Start(cmd *exec.Cmd) (<-chan error, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started, exited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the runtime discards the thread when this
		// goroutine ends, after the child is gone.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}
