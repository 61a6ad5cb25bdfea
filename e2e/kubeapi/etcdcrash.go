package kubeapi

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// etcdRestartTimeout bounds how long a restarted etcd may take to be
// healthy again; it replays its WAL from the data dir first.
const etcdRestartTimeout = 60 * time.Second

// KillEtcd kills etcd with SIGKILL, as a crash or an OOM kill would: the
// API server stays up and its storage calls fail. The returned function
// starts etcd again with the same flags, so on the same ports and data dir
// (the API server reconnects by itself), and waits until it is healthy.
// The test's cleanup restarts it too if the test did not, so Stop finds
// both processes as it expects.
func (s *Server) KillEtcd(t testing.TB) (restart func()) {
	t.Helper()
	old := s.etcd
	if err := old.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL etcd: %v", err)
	}
	<-old.done
	var once sync.Once
	restart = func() {
		once.Do(func() {
			t.Helper()
			p, err := restartEtcd(old, s.EtcdURL)
			if err != nil {
				t.Fatalf("restart etcd: %v", err)
			}
			s.etcd = p
		})
	}
	t.Cleanup(restart)
	return restart
}

// restartEtcd starts a killed etcd again with its own flags and waits
// until it is healthy at clientURL.
func restartEtcd(old *process, clientURL string) (*process, error) {
	p, err := startProcess(old.name, old.cmd.Path, old.cmd.Args[1:], old.logPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), etcdRestartTimeout)
	defer cancel()
	if err := waitFor(ctx, p, func(ctx context.Context) error { return etcdHealthy(ctx, clientURL) }); err != nil {
		return nil, fmt.Errorf("%w (%v)", err, p.stop(time.Second))
	}
	return p, nil
}
