package controller_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

const systemNS = "ironlb-system"

// env is one API server with the IronLB CRDs and the controller's RBAC.
type env struct {
	t          testing.TB
	api        *kubeapi.Server
	c          client.Client // admin
	kubeconfig string        // the controller's own identity
}

func scheme(t testing.TB) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newEnv(t testing.TB, opts kubeapi.Options) *env {
	t.Helper()
	api := kubeapi.Start(t, opts)
	e := &env{t: t, api: api, c: api.Client(t, scheme(t))}
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: systemNS}})
	if err := cluster.CreateControllerSecrets(context.Background(), e.c); err != nil {
		t.Fatal(err)
	}
	e.applyControllerRBAC()
	user, groups := kubeapi.ServiceAccountIdentity(systemNS, "ironlb-controller")
	kc, err := api.KubeconfigFor(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	e.kubeconfig = kc
	return e
}

// applyControllerRBAC applies the generated roles and binds them to the
// controller's ServiceAccount identity, so the tests prove the roles are
// enough.
func (e *env) applyControllerRBAC() {
	e.t.Helper()
	path := filepath.Join(repoRoot(e.t), "manifests", "rbac", "controller", "role.yaml")
	subject := rbacv1.Subject{Kind: "ServiceAccount", Namespace: systemNS, Name: "ironlb-controller"}
	if err := cluster.ApplyRoles(context.Background(), e.c, path, subject); err != nil {
		e.t.Fatalf("controller RBAC: %v", err)
	}
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), obj); err != nil {
		e.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// controllerProc is a running bin/controller.
type controllerProc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startController runs the controller as its ServiceAccount; extra flags
// override the defaults. The process is killed at test end.
func (e *env) startController(extra ...string) *controllerProc {
	e.t.Helper()
	logf, err := os.CreateTemp(e.api.Dir, "controller-*.log")
	if err != nil {
		e.t.Fatal(err)
	}
	args := append([]string{
		"-kubeconfig", e.kubeconfig,
		"-leader-election-namespace", systemNS,
		"-metrics-bind-address", "0",
		"-health-probe-bind-address", "0",
		"-webhook-port", "0",
		"-log-level", "debug",
	}, extra...)
	cmd := exec.Command(controllerBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start controller: %v", err)
	}
	p := &controllerProc{cmd: cmd, log: logf.Name(), done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	e.t.Cleanup(func() {
		p.kill()
		if e.t.Failed() {
			e.t.Logf("controller log %s (last 40 lines):\n%s", p.log, tail(p.log, 40))
		}
	})
	return p
}

// kill stops the controller with SIGKILL, as a crash or OOM kill would.
func (p *controllerProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.done <- nil // later calls return at once
}

// stop stops the controller with SIGTERM and waits for it to exit.
func (p *controllerProc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- nil
		if err != nil {
			t.Fatalf("controller exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("controller did not stop within 20s of SIGTERM")
	}
}

// alive reports whether the process is still running.
func (p *controllerProc) alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
