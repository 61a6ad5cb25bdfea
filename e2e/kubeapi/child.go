package kubeapi

import "time"

// Child is a long-running program started like etcd and kube-apiserver:
// output appended to a log file, killed with the test binary (Pdeathsig),
// stopped with SIGTERM then SIGKILL. Other harnesses (e2e/kcluster's
// controller-manager, scheduler and node daemons) start theirs with it.
type Child struct{ p *process }

// StartChild starts bin with args, its output appended to logPath.
func StartChild(name, bin string, args []string, logPath string) (*Child, error) {
	p, err := startProcess(name, bin, args, logPath)
	if err != nil {
		return nil, err
	}
	return &Child{p: p}, nil
}

// Stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
// Stopping an exited child is not an error.
func (c *Child) Stop(grace time.Duration) error { return c.p.stop(grace) }

// Exited reports whether the program has ended.
func (c *Child) Exited() bool { return c.p.exited() }

// ExitError describes an ended program with the last lines of its log.
func (c *Child) ExitError() error { return c.p.exitError() }

// Pid is the program's process id.
func (c *Child) Pid() int { return c.p.cmd.Process.Pid }

// Done is closed once the program has exited.
func (c *Child) Done() <-chan struct{} { return c.p.done }

// Log is the program's log file.
func (c *Child) Log() string { return c.p.logPath }
