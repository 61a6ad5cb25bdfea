package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/pdeathsig"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Options shapes a cluster.
type Options struct {
	Nodes   int  // node namespaces, each with a Node object and a speaker; 0 means 3
	Clients int  // client namespaces; 0 means 1
	Router  bool // a router namespace (FRR runs there in BGP tests)
	// ControllerArgs and SpeakerArgs are appended to the default flags.
	ControllerArgs, SpeakerArgs []string
	// NoSpeakers starts no speaker; StartSpeaker starts them one by one.
	NoSpeakers bool
	// Datapath is the speakers' -datapath; default "off", so tests of
	// announcements alone see no DNAT rules.
	Datapath string
	// LogDir receives the processes' logs; default: the API server's dir.
	LogDir string
	// API is the API server to use; nil starts one for the test. A test
	// that must prepare files for the components' flags before they start
	// (certificates signed by the server's CA) starts it first.
	API *kubeapi.Server
	// Webhook makes the controller serve its validating webhook on a
	// loopback port with a throw-away certificate; InstallWebhook
	// registers it with the API server.
	Webhook bool
}

// Cluster is a running IronLB on a virtual LAN.
type Cluster struct {
	API    *kubeapi.Server
	Lab    *vlan.Lab
	Client client.Client // admin
	Bin    Binaries

	opts       Options
	logDir     string
	secretFile string
	apiPort    string
	kubeconfig map[string]string // component -> kubeconfig path

	mu         sync.Mutex
	controller *Proc
	speakers   map[string]*Proc // node name -> speaker
	podRoutes  map[string]bool  // nodes whose pod subnets the others route

	webhookURL string // with Options.Webhook
	webhookCA  []byte
}

// Scheme knows the built-in and IronLB types.
func Scheme() *kruntime.Scheme {
	s := kruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registration of built-in types cannot fail
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Start builds the cluster for a test; everything is torn down at test end.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin, err := Build()
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	api := opts.API
	if api == nil {
		api = kubeapi.Start(t, kubeapi.Options{})
	}
	lab := vlan.New(t, vlan.Options{Nodes: opts.Nodes, Clients: opts.Clients, Router: opts.Router})
	c, err := setup(context.Background(), api, lab, bin, opts)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(func() {
		c.stopAll()
		if t.Failed() {
			for _, p := range c.procs() {
				t.Logf("%s log %s (last 30 lines):\n%s", p.Name, p.Log, tail(p.Log, 30))
			}
		}
	})
	return c
}

func setup(ctx context.Context, api *kubeapi.Server, lab *vlan.Lab, bin Binaries, opts Options) (_ *Cluster, err error) {
	u, err := url.Parse(api.URL)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		API: api, Lab: lab, Bin: bin, opts: opts,
		logDir: opts.LogDir, apiPort: u.Port(),
		kubeconfig: map[string]string{}, speakers: map[string]*Proc{},
	}
	if c.logDir == "" {
		c.logDir = api.Dir
	}
	// A failed setup stops what it started, so no process outlives it.
	defer func() {
		if err != nil {
			c.stopAll()
		}
	}()
	c.Client, err = client.New(api.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, err
	}
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}); err != nil {
		return nil, err
	}
	if err := CreateControllerSecrets(ctx, c.Client); err != nil {
		return nil, err
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	for _, comp := range []string{"controller", "speaker"} {
		sa := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: SystemNamespace, Name: "ironlb-" + comp}}
		if err := ApplyRoles(ctx, c.Client, filepath.Join(root, "manifests", "rbac", comp, "role.yaml"), sa...); err != nil {
			return nil, err
		}
		user, groups := kubeapi.ServiceAccountIdentity(SystemNamespace, "ironlb-"+comp)
		if c.kubeconfig[comp], err = api.KubeconfigFor(user, groups...); err != nil {
			return nil, err
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	c.secretFile = filepath.Join(c.logDir, "members-secret")
	if err := os.WriteFile(c.secretFile, []byte(hex.EncodeToString(secret)), 0o600); err != nil {
		return nil, err
	}
	for _, n := range lab.Nodes {
		if err := c.createNode(ctx, n); err != nil {
			return nil, err
		}
		// Speakers dial the API server at the same 127.0.0.1:PORT as the
		// host, inside their namespace, so one kubeconfig serves all.
		if err := n.ForwardTo(context.Background(), "127.0.0.1:"+c.apiPort, u.Host); err != nil {
			return nil, err
		}
	}
	if opts.Webhook {
		flags, err := c.webhookServing()
		if err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
		c.opts.ControllerArgs = append(slices.Clone(c.opts.ControllerArgs), flags...)
	}
	if err := c.StartController(); err != nil {
		return nil, err
	}
	if !opts.NoSpeakers {
		for _, n := range lab.Nodes {
			if err := c.StartSpeaker(n.Name); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// createNode registers a Node for a node namespace, Ready, with the
// namespace's LAN addresses as InternalIPs.
func (c *Cluster) createNode(ctx context.Context, h *vlan.Host) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   h.Name,
		Labels: map[string]string{"kubernetes.io/hostname": h.Name},
	}}
	if err := c.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("create node %s: %w", h.Name, err)
	}
	node.Status = corev1.NodeStatus{
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: h.IPv4.Addr().String()},
			{Type: corev1.NodeInternalIP, Address: h.IPv6.Addr().String()},
			{Type: corev1.NodeHostName, Address: h.Name},
		},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
	if err := c.Client.Status().Update(ctx, node); err != nil {
		return fmt.Errorf("set node %s status: %w", h.Name, err)
	}
	return nil
}

// Proc is an IronLB process.
type Proc struct {
	Name string
	Log  string
	cmd  *exec.Cmd       // host processes
	ns   *vlan.Process   // processes in a namespace
	done <-chan struct{} // closed when it exited
}

// Signal sends sig.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.ns != nil {
		return p.ns.Signal(sig)
	}
	return p.cmd.Process.Signal(sig)
}

// Pid is the process id.
func (p *Proc) Pid() int {
	if p.ns != nil {
		return p.ns.Pid
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitStatus says how the process ended ("exit status 2", "signal:
// killed"); "" while it runs.
func (p *Proc) ExitStatus() string {
	if !p.Exited() {
		return ""
	}
	if p.ns != nil {
		if err := p.ns.Wait(); err != nil {
			return err.Error()
		}
		return "exit status 0"
	}
	return p.cmd.ProcessState.String()
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	p.Wait(10 * time.Second)
}

// Wait waits up to timeout for the process to exit and reports whether it did.
func (p *Proc) Wait(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// StartController (re)starts the controller on the host.
func (c *Cluster) StartController() error {
	log := filepath.Join(c.logDir, "controller.log")
	args := append([]string{
		"-kubeconfig", c.kubeconfig["controller"],
		"-leader-election-namespace", SystemNamespace,
		"-lease-duration", "2s", "-renew-deadline", "1500ms", "-retry-period", "250ms",
		"-metrics-bind-address", "0", "-health-probe-bind-address", "0", "-webhook-port", "0",
	}, c.opts.ControllerArgs...)
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.Bin.Controller, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Forked as the lab and the API server fork theirs: from any thread,
	// the controller was now and then killed in mid-run.
	exited, err := pdeathsig.Start(cmd)
	if err != nil {
		f.Close()
		return fmt.Errorf("start controller: %w", err)
	}
	done := make(chan struct{})
	go func() { <-exited; f.Close(); close(done) }()
	c.mu.Lock()
	c.controller = &Proc{Name: "controller", Log: log, cmd: cmd, done: done}
	c.mu.Unlock()
	return nil
}

// Controller is the running controller.
func (c *Cluster) Controller() *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.controller
}

// MembersKeyFile is the speakers' -members-secret-file. They re-read it, so
// a test can rotate the liveness key by replacing it.
func (c *Cluster) MembersKeyFile() string { return c.secretFile }

// StartSpeaker (re)starts the speaker of a node inside its namespace.
func (c *Cluster) StartSpeaker(node string) error {
	h := c.Lab.Host(node)
	if h == nil {
		return fmt.Errorf("no node %q", node)
	}
	log := filepath.Join(c.logDir, "speaker-"+node+".log")
	args := append([]string{
		"-kubeconfig", c.kubeconfig["speaker"],
		"-node-name", node,
		"-members-secret-file", c.secretFile,
		"-metrics-bind-address", "0",
		"-log-level", "debug",
		"-datapath", c.datapath(),
	}, c.opts.SpeakerArgs...)
	p, err := h.Start(context.Background(), log, c.Bin.Speaker, args...)
	if err != nil {
		return fmt.Errorf("start speaker on %s: %w", node, err)
	}
	c.mu.Lock()
	c.speakers[node] = &Proc{Name: "speaker " + node, Log: log, ns: p, done: p.Done()}
	c.mu.Unlock()
	return nil
}

func (c *Cluster) datapath() string {
	if c.opts.Datapath == "" {
		return "off"
	}
	return c.opts.Datapath
}

// Speaker is the running speaker of a node.
func (c *Cluster) Speaker(node string) *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speakers[node]
}

func (c *Cluster) procs() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Proc
	if c.controller != nil {
		out = append(out, c.controller)
	}
	for _, p := range c.speakers {
		out = append(out, p)
	}
	return out
}

func (c *Cluster) stopAll() {
	for _, p := range c.procs() {
		if !p.Exited() {
			p.Kill()
		}
	}
}

// NodeAddr is a node's LAN IPv4 or IPv6 address.
func (c *Cluster) NodeAddr(node string, v6 bool) netip.Addr {
	h := c.Lab.Host(node)
	if v6 {
		return h.IPv6.Addr()
	}
	return h.IPv4.Addr()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
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
