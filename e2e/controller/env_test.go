package controller_test

import (
	"bufio"
	"context"
	"errors"
	"io"
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
	"k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
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
	path := filepath.Join(repoRoot(e.t), "manifests", "rbac", "controller", "role.yaml")
	f, err := os.Open(path)
	if err != nil {
		e.t.Fatalf("controller RBAC: %v", err)
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(bufio.NewReader(f), 4096)
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: systemNS, Name: "ironlb-controller"}}
	for {
		var u map[string]any
		if err := dec.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			e.t.Fatalf("decode %s: %v", path, err)
		}
		if u == nil {
			continue
		}
		switch u["kind"] {
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			convert(e.t, u, &cr)
			e.create(&cr)
			e.create(&rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: cr.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
				Subjects:   subject,
			})
		case "Role":
			var r rbacv1.Role
			convert(e.t, u, &r)
			e.create(&r)
			e.create(&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: r.Name},
				Subjects:   subject,
			})
		default:
			e.t.Fatalf("%s: unexpected kind %v", path, u["kind"])
		}
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

func convert(t testing.TB, u map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, into); err != nil {
		t.Fatalf("convert %v: %v", u["kind"], err)
	}
}
