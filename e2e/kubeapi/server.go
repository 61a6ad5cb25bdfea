package kubeapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	// defaultStartTimeout bounds startup when the caller's context has no
	// deadline; ~1 s is usual, but parallel servers on 2 cores are slower.
	defaultStartTimeout = 2 * time.Minute
	// stopGrace is how long a process gets after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// adminUser is the identity in Server.Config.
	adminUser = "ironlb-admin"
	// tmpfsDir holds etcd's data when it exists: etcd 3.4 cannot turn fsync
	// off, and fsync on tmpfs is free.
	tmpfsDir = "/dev/shm"
)

// Server is a running etcd plus kube-apiserver.
type Server struct {
	// Config has admin credentials (group system:masters), no client-side
	// rate limit to speak of (QPS 1000, burst 2000). Copy it before changing.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same credentials.
	Kubeconfig string
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// Dir is the server's temporary directory (pki/, kubeconfigs, logs).
	Dir string
	// EtcdURL is etcd's client URL, for tests that look at storage directly.
	EtcdURL string
	// APIServerLog and EtcdLog are the processes' log files.
	APIServerLog, EtcdLog string
	// StartupDuration is the time from StartProcess to ready.
	StartupDuration time.Duration

	ca        *authority
	etcd      *process
	apiserver *process
	removable []string // directories Stop deletes

	mintSeq  atomic.Int64
	stopOnce sync.Once
	stopErr  error
}

// Start starts a server for a test; t.Cleanup stops it. Any failure to start,
// a missing binary included, is t.Fatal.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := StartProcess(context.Background(), opts)
	if err != nil {
		t.Fatalf("kubeapi: %v", err)
		return nil // unreachable with a real testing.TB
	}
	t.Logf("kubeapi: %s ready in %v (dir %s)", s.URL, s.StartupDuration.Round(time.Millisecond), s.Dir)
	t.Cleanup(func() {
		failed := t.Failed()
		if failed {
			t.Logf("kubeapi: last 50 lines of %s:\n%s", s.APIServerLog, tailFile(s.APIServerLog, 50))
		}
		keep := failed && os.Getenv(EnvKeep) == "1"
		if err := s.stop(keep); err != nil {
			t.Errorf("kubeapi: stopping: %v", err)
		}
		if keep {
			t.Logf("kubeapi: kept %s (%s=1)", s.Dir, EnvKeep)
		}
	})
	return s
}

// StartProcess starts a server outside a test (e.g. for the lab). ctx bounds
// startup only; the processes run until Stop (or until this process dies:
// they are started with Pdeathsig=SIGKILL). Without a deadline in ctx,
// startup is limited to two minutes.
func StartProcess(ctx context.Context, opts Options) (s *Server, err error) {
	begin := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	r, err := opts.resolve(osEnv())
	if err != nil {
		return nil, err
	}
	crds, err := loadCRDs(r.crdDir)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "ironlb-kubeapi-")
	if err != nil {
		return nil, fmt.Errorf("creating temp dir: %w", err)
	}
	s = &Server{Dir: dir, removable: []string{dir}}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.stop(false))
			s = nil
		}
	}()

	pkiDir := filepath.Join(dir, "pki")
	if err := os.Mkdir(pkiDir, 0o700); err != nil {
		return s, fmt.Errorf("creating pki dir: %w", err)
	}
	serviceIPs, err := kubernetesServiceIPs(r.serviceCIDRs)
	if err != nil {
		return s, err
	}
	admin, err := s.writePKI(pkiDir, serviceIPs)
	if err != nil {
		return s, err
	}

	logDir := r.logDir
	if logDir == "" {
		logDir = dir
	}
	if s.EtcdLog, err = uniqueFile(logDir, "etcd-*.log"); err != nil {
		return s, err
	}
	if s.APIServerLog, err = uniqueFile(logDir, "kube-apiserver-*.log"); err != nil {
		return s, err
	}

	etcdData, err := s.etcdDataDir()
	if err != nil {
		return s, err
	}
	if s.etcd, s.EtcdURL, err = startEtcd(ctx, r.etcdBin, etcdData, s.EtcdLog); err != nil {
		return s, err
	}

	tlsCfg, err := clientTLS(s.ca, admin)
	if err != nil {
		return s, err
	}
	s.apiserver, s.URL, err = startAPIServer(ctx, apiserverParams{
		bin: r.apiserverBin, pkiDir: pkiDir, logPath: s.APIServerLog, etcdURL: s.EtcdURL,
		serviceCIDRs: r.serviceCIDRs, nodePortRange: r.nodePortRange, extraFlags: r.extraFlags,
		tls: tlsCfg,
	})
	if err != nil {
		return s, err
	}

	s.Config = s.restConfig(admin)
	if s.Kubeconfig, err = s.writeKubeconfig("admin.kubeconfig", adminUser, admin); err != nil {
		return s, err
	}
	if err := waitBootstrapped(ctx, s.Config); err != nil {
		return s, err
	}
	if err := installCRDs(ctx, s.Config, crds); err != nil {
		return s, err
	}
	s.StartupDuration = time.Since(begin)
	return s, nil
}

// Stop ends kube-apiserver, then etcd (SIGTERM, SIGKILL after 5 s), and
// removes the server's directories unless IRONLB_KEEP=1. Safe to call twice.
func (s *Server) Stop() error {
	return s.stop(os.Getenv(EnvKeep) == "1")
}

func (s *Server) stop(keep bool) error {
	s.stopOnce.Do(func() {
		var errs []error
		// The API server first, so it does not log etcd errors while dying.
		errs = append(errs, s.apiserver.stop(stopGrace), s.etcd.stop(stopGrace))
		if !keep {
			for _, d := range s.removable {
				if err := os.RemoveAll(d); err != nil {
					errs = append(errs, fmt.Errorf("removing %s: %w", d, err))
				}
			}
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// writePKI creates the CA, the serving certificate, the admin client
// certificate and the ServiceAccount signing keys.
func (s *Server) writePKI(pkiDir string, serviceIPs []net.IP) (keyPair, error) {
	ca, err := newAuthority()
	if err != nil {
		return keyPair{}, err
	}
	s.ca = ca
	serving, err := ca.servingCert(serviceIPs...)
	if err != nil {
		return keyPair{}, err
	}
	admin, err := ca.clientCert(adminUser, []string{"system:masters"})
	if err != nil {
		return keyPair{}, err
	}
	saKey, saPub, err := serviceAccountKey()
	if err != nil {
		return keyPair{}, err
	}
	return admin, writeFiles(pkiDir, map[string][]byte{
		"ca.crt":        ca.certPEM,
		"apiserver.crt": serving.certPEM,
		"apiserver.key": serving.keyPEM,
		"admin.crt":     admin.certPEM,
		"admin.key":     admin.keyPEM,
		"sa.key":        saKey,
		"sa.pub":        saPub,
	})
}

// etcdDataDir puts etcd's data on tmpfs when there is one: etcd 3.4 has no
// --unsafe-no-fsync, and fsync on a VM disk dominates write latency.
func (s *Server) etcdDataDir() (string, error) {
	if fi, err := os.Stat(tmpfsDir); err == nil && fi.IsDir() {
		sweepStaleTmpfs(tmpfsDir)
		if d, err := newOwnedDir(tmpfsDir, tmpfsPrefix); err == nil {
			s.removable = append(s.removable, d)
			return filepath.Join(d, "data"), nil
		}
	}
	d := filepath.Join(s.Dir, "etcd")
	if err := os.Mkdir(d, 0o700); err != nil {
		return "", fmt.Errorf("creating etcd data dir: %w", err)
	}
	return d, nil
}

// waitBootstrapped waits for what the API server creates by itself after
// /readyz: the "default" namespace, and the "kubernetes" Service, which is
// created only once ClusterIP allocation works. Nothing that only a
// controller-manager creates is waited for.
func waitBootstrapped(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	var last error
	for {
		_, last = cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		if last == nil {
			_, last = cs.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
			if last == nil {
				return nil
			}
		}
		if last != nil && !apierrors.IsNotFound(last) {
			last = fmt.Errorf("unexpected: %w", last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for namespace default and service default/kubernetes: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func uniqueFile(dir, pattern string) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("creating log file in %s: %w", dir, err)
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("creating log file %s: %w", name, err)
	}
	return name, nil
}

func clientTLS(ca *authority, kp keyPair) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(kp.certPEM, kp.keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Freeze stops the API server with SIGSTOP, as a hung or overloaded API
// server looks to its clients: connections open, nothing answers. The
// returned function resumes it (SIGCONT); the test's cleanup resumes it too.
func (s *Server) Freeze(t testing.TB) (resume func()) {
	t.Helper()
	p := s.apiserver.cmd.Process
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP kube-apiserver: %v", err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := p.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("SIGCONT kube-apiserver: %v", err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}
