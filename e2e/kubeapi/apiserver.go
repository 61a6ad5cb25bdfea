package kubeapi

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
)

// apiserverArgs is the kube-apiserver command line. Pure, so the flag set is
// reviewable and testable on its own. An extra flag replaces the default
// flag of the same name: for list flags (--authorization-mode,
// --disable-admission-plugins) a second occurrence would add to the first
// instead of overriding it.
func apiserverArgs(pkiDir, etcdURL string, port int, serviceCIDRs, nodePortRange string, extra []string) []string {
	pki := func(name string) string { return filepath.Join(pkiDir, name) }
	args := []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--advertise-address=127.0.0.1",
		"--cert-dir=" + pkiDir, // never write to /var/run/kubernetes
		"--tls-cert-file=" + pki("apiserver.crt"),
		"--tls-private-key-file=" + pki("apiserver.key"),
		// Every identity is a client certificate signed by our CA, so tests
		// can mint users and groups after start (KubeconfigFor).
		"--client-ca-file=" + pki("ca.crt"),
		// Kubelets (e2e/kcluster) trust the same CA: the API server calls
		// them as admin for exec, logs and port-forward.
		"--kubelet-client-certificate=" + pki("admin.crt"),
		"--kubelet-client-key=" + pki("admin.key"),
		"--authorization-mode=RBAC",
		"--etcd-servers=" + etcdURL,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + pki("sa.pub"),
		"--service-account-signing-key-file=" + pki("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDRs,
		"--service-node-port-range=" + nodePortRange,
		"--allow-privileged=true",
		// No controller-manager creates "default" ServiceAccounts, and the
		// ServiceAccount admission plugin would reject every Pod without one.
		"--disable-admission-plugins=ServiceAccount",
		// Nothing here serves the "kubernetes" Service's endpoints, and a
		// loopback address must not be published as one.
		"--endpoint-reconciler-type=none",
		// Tests create thousands of Services at 100/s from one client;
		// fairness queuing only adds latency and startup work here.
		"--enable-priority-and-fairness=false",
		"--max-requests-inflight=2000",
		"--max-mutating-requests-inflight=1000",
		"--profiling=false",
		"--v=1",
	}
	override := map[string]bool{}
	for _, e := range extra {
		override[flagName(e)] = true
	}
	kept := args[:0]
	for _, a := range args {
		if !override[flagName(a)] {
			kept = append(kept, a)
		}
	}
	return append(kept, extra...)
}

// flagName is "--name" of "--name=value".
func flagName(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}

type apiserverParams struct {
	bin, pkiDir, logPath, etcdURL string
	serviceCIDRs, nodePortRange   string
	extraFlags                    []string
	tls                           *tls.Config // admin client credentials, for /readyz
}

// startAPIServer runs kube-apiserver on a free port and waits for /readyz.
// It returns the server's URL.
func startAPIServer(ctx context.Context, p apiserverParams) (*process, string, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: p.tls}}
	defer hc.CloseIdleConnections()
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(1)
		if err != nil {
			return nil, "", err
		}
		url := fmt.Sprintf("https://127.0.0.1:%d", ports[0])
		offset := fileSize(p.logPath)
		args := apiserverArgs(p.pkiDir, p.etcdURL, ports[0], p.serviceCIDRs, p.nodePortRange, p.extraFlags)
		proc, err := startProcess("kube-apiserver", p.bin, args, p.logPath)
		if err != nil {
			return nil, "", err
		}
		err = waitFor(ctx, proc, func(ctx context.Context) error { return readyz(ctx, hc, url) })
		if err == nil {
			return proc, url, nil
		}
		proc.stop(0)
		lastErr = err
		if !portTaken(p.logPath, offset) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("kube-apiserver: no free port after %d attempts: %w", startAttempts, lastErr)
}

func readyz(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s: %s", resp.Status, body)
	}
	return nil
}
