package cluster

import (
	"syscall"
	"testing"
	"time"
)

// RollingRestart restarts every speaker in turn, as a DaemonSet rollout
// does: SIGTERM, wait for the process to exit, start it again, and wait
// until the router has its sessions back before the next node goes.
func (s *System) RollingRestart(t testing.TB) {
	t.Helper()
	for _, n := range s.C.Lab.Nodes {
		p := s.C.Speaker(n.Name)
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if !p.Wait(15 * time.Second) {
			t.Fatalf("speaker %s did not stop within 15s of SIGTERM", n.Name)
		}
		if err := s.C.StartSpeaker(n.Name); err != nil {
			t.Fatal(err)
		}
		s.WaitSessions(t)
	}
}
