package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// startAttempts bounds the retries after a port was taken between picking it
// and the child binding it.
const startAttempts = 3

// startEtcd runs a single-member etcd on two free loopback ports and waits
// until it reports healthy. It returns the client URL.
func startEtcd(ctx context.Context, bin, dataDir, logPath string) (*process, string, error) {
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(2)
		if err != nil {
			return nil, "", err
		}
		clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		args := []string{
			"--name=ironlb",
			"--data-dir=" + dataDir,
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=ironlb=" + peerURL,
			"--initial-cluster-state=new",
			// 8 GiB is etcd's documented maximum; the default 2 GiB could fill
			// up in a long lab run, and the alarm would stop all writes.
			"--quota-backend-bytes=8589934592",
			// A single member still waits one election timeout (1 s by
			// default) before it leads; with 10/100 ms it serves at once. It
			// has no peers, so a short timeout cannot cost it leadership.
			"--heartbeat-interval=10",
			"--election-timeout=100",
			"--logger=zap",
			"--log-level=warn",
			// etcd 3.4 has no --unsafe-no-fsync; the data dir is on tmpfs
			// when possible instead (see dataDirBase).
		}
		offset := fileSize(logPath)
		p, err := startProcess("etcd", bin, args, logPath)
		if err != nil {
			return nil, "", err
		}
		err = waitFor(ctx, p, func(ctx context.Context) error { return etcdHealthy(ctx, clientURL) })
		if err == nil {
			return p, clientURL, nil
		}
		p.stop(time.Second)
		lastErr = err
		if !portTaken(logPath, offset) {
			return nil, "", err
		}
		// Start over in a clean data dir: a half-initialised member would
		// remember the old peer URL.
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, "", fmt.Errorf("resetting etcd data dir: %w", err)
		}
	}
	return nil, "", fmt.Errorf("etcd: no free port after %d attempts: %w", startAttempts, lastErr)
}

func etcdHealthy(ctx context.Context, clientURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return fmt.Errorf("etcd /health: %w", err)
	}
	if h.Health != "true" {
		return fmt.Errorf("etcd /health: %q", h.Health)
	}
	return nil
}

// waitFor polls check until it succeeds, the process exits, or ctx ends.
func waitFor(ctx context.Context, p *process, check func(context.Context) error) error {
	const interval = 50 * time.Millisecond
	var last error
	for {
		if p.exited() {
			return p.exitError()
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last check: %v); last lines of %s:\n%s",
				p.name, ctx.Err(), last, p.logPath, tailFile(p.logPath, 20))
		case <-p.done:
		case <-time.After(interval):
		}
	}
}

// portTaken reports whether a child's log, from offset on (this attempt's
// part), says it lost the race for a port.
func portTaken(logPath string, offset int64) bool {
	data, err := os.ReadFile(logPath)
	if err != nil || int64(len(data)) < offset {
		return false
	}
	return strings.Contains(string(data[offset:]), "address already in use")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
