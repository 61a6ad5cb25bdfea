package vlan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Process is a long-running command inside a lab namespace.
type Process struct {
	Pid  int
	Name string // the program, for messages

	done chan struct{}
	err  error // valid after done is closed
}

// startProcess starts name in ns through the lab's spawner thread and
// registers it so Close kills it.
func (l *Lab) startProcess(ctx context.Context, ns *namespace, logPath, name string, args ...string) (*Process, error) {
	cmd := ns.command(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Dies with the test binary even if it is killed with SIGKILL.
		Pdeathsig: syscall.SIGKILL,
		// Own process group, so Kill also reaches the program's children.
		Setpgid: true,
	}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	var logFile *os.File
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("netns %s: %s: open log: %w", ns.name, name, err)
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	closeLog := func() {
		if logFile != nil {
			logFile.Close()
		}
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		closeLog()
		return nil, errClosed
	}
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	l.spawn <- req
	if err := <-req.done; err != nil {
		l.mu.Unlock()
		closeLog()
		return nil, fmt.Errorf("netns %s: start %s: %w", ns.name, name, err)
	}
	p := &Process{Pid: cmd.Process.Pid, Name: name, done: make(chan struct{})}
	l.procs[p] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()

	go func() {
		defer l.wg.Done()
		p.err = cmd.Wait()
		closeLog()
		l.mu.Lock()
		delete(l.procs, p)
		l.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func killGroup(pid int) error {
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pid, err)
	}
	return nil
}

// Signal sends sig to the process (not its group), e.g. SIGHUP to reload.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("%s (pid %d): %w", p.Name, p.Pid, os.ErrProcessDone)
	default:
	}
	if err := unix.Kill(p.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to %s (pid %d): %w", sig, p.Name, p.Pid, err)
	}
	return nil
}

// Kill sends SIGKILL to the process group and waits until the process has
// exited. Killing an exited process is not an error.
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := killGroup(p.Pid); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	<-p.done
	return nil
}

// Wait blocks until the process exits and returns its exit error (nil for
// status 0). Any number of goroutines may wait.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }
