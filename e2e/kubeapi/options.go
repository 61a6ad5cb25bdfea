package kubeapi

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Defaults for Options; see the package documentation for why the service
// range is IPv6-primary.
const (
	DefaultServiceCIDRs  = "2001:db8:ffff::/108,192.0.2.128/25"
	DefaultNodePortRange = "30000-39999"

	// EnvToolsBin overrides the directory that holds kube-apiserver.
	EnvToolsBin = "IRONLB_TOOLS_BIN"
	// EnvKeep, set to 1, keeps the directory of a failed test.
	EnvKeep = "IRONLB_KEEP"

	modulePath = "github.com/ironlb/ironlb"
)

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// CRDDir holds CustomResourceDefinition YAML files to install and wait for
	// (Established) before Start returns. Default: <repo>/manifests/crds,
	// skipped without error if that directory does not exist. A directory set
	// here explicitly must exist.
	CRDDir string
	// SkipCRDs installs no CRDs at all, not even the default ones.
	SkipCRDs bool
	// ServiceCIDRs is --service-cluster-ip-range. Default DefaultServiceCIDRs.
	ServiceCIDRs string
	// NodePortRange is --service-node-port-range. Default DefaultNodePortRange.
	NodePortRange string
	// ExtraFlags are appended to the kube-apiserver command line, each
	// replacing the harness's flag of the same name (so
	// "--disable-admission-plugins=" turns ServiceAccount admission back on).
	ExtraFlags []string
	// LogDir receives etcd-*.log and kube-apiserver-*.log. Default: the
	// server's temporary directory.
	LogDir string
	// BinDir holds kube-apiserver. Default: $IRONLB_TOOLS_BIN, else
	// <repo>/.tools/bin.
	BinDir string
}

// resolved is Options with every default filled in and every path absolute.
type resolved struct {
	crdDir        string // "" means: install no CRDs
	serviceCIDRs  string
	nodePortRange string
	extraFlags    []string
	logDir        string // "" means: the server's directory
	apiserverBin  string
	etcdBin       string
}

// env is the part of the process environment that resolution reads; a
// parameter so the decisions can be tested without touching the real one.
type env struct {
	getenv   func(string) string
	getwd    func() (string, error)
	lookPath func(string) (string, error)
	stat     func(string) (os.FileInfo, error)
}

func osEnv() env {
	return env{getenv: os.Getenv, getwd: os.Getwd, lookPath: exec.LookPath, stat: os.Stat}
}

// resolve fills in the defaults and checks that the binaries exist, so that a
// missing tool is reported before anything is started.
func (o Options) resolve(e env) (resolved, error) {
	r := resolved{
		serviceCIDRs:  o.ServiceCIDRs,
		nodePortRange: o.NodePortRange,
		extraFlags:    o.ExtraFlags,
		logDir:        o.LogDir,
	}
	if r.serviceCIDRs == "" {
		r.serviceCIDRs = DefaultServiceCIDRs
	}
	if r.nodePortRange == "" {
		r.nodePortRange = DefaultNodePortRange
	}

	// The repository root is needed only for defaults; a caller that sets
	// everything explicitly may run outside the repository.
	var root string
	var rootErr error
	needRoot := o.BinDir == "" && e.getenv(EnvToolsBin) == "" || o.CRDDir == "" && !o.SkipCRDs
	if needRoot {
		wd, err := e.getwd()
		if err != nil {
			return r, fmt.Errorf("working directory: %w", err)
		}
		root, rootErr = repoRoot(wd)
	}

	binDir, binHint := o.BinDir, "Options.BinDir"
	if binDir == "" {
		binDir, binHint = e.getenv(EnvToolsBin), "$"+EnvToolsBin
	}
	if binDir == "" {
		if rootErr != nil {
			return r, fmt.Errorf("locating .tools/bin: %w", rootErr)
		}
		binDir, binHint = filepath.Join(root, ".tools", "bin"), ".tools/bin"
	}
	r.apiserverBin = filepath.Join(binDir, "kube-apiserver")
	if fi, err := e.stat(r.apiserverBin); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return r, fmt.Errorf("kube-apiserver not found in %s (%s): run `make tools` (hack/build-tools.sh)", binHint, binDir)
	}

	etcd, err := e.lookPath("etcd")
	if err != nil {
		return r, fmt.Errorf("etcd not found in PATH: run hack/install-deps.sh (Debian package etcd-server): %w", err)
	}
	r.etcdBin = etcd

	switch {
	case o.SkipCRDs:
	case o.CRDDir != "":
		abs, err := filepath.Abs(o.CRDDir)
		if err != nil {
			return r, fmt.Errorf("Options.CRDDir %q: %w", o.CRDDir, err)
		}
		if fi, err := e.stat(abs); err != nil || !fi.IsDir() {
			return r, fmt.Errorf("Options.CRDDir %q is not a directory", o.CRDDir)
		}
		r.crdDir = abs
	default:
		if rootErr != nil {
			return r, fmt.Errorf("locating manifests/crds: %w", rootErr)
		}
		def := filepath.Join(root, "manifests", "crds")
		if fi, err := e.stat(def); err == nil && fi.IsDir() {
			r.crdDir = def
		}
	}

	if r.logDir != "" {
		abs, err := filepath.Abs(r.logDir)
		if err != nil {
			return r, fmt.Errorf("Options.LogDir %q: %w", o.LogDir, err)
		}
		r.logDir = abs
	}
	return r, nil
}

// repoRoot walks up from dir to the directory whose go.mod declares this
// module (hack/kube and hack/tools have go.mod files of their own).
func repoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if mod, err := moduleOf(filepath.Join(d, "go.mod")); err == nil && mod == modulePath {
			return d, nil
		}
		if parent := filepath.Dir(d); parent == d {
			return "", fmt.Errorf("no go.mod for module %s above %s", modulePath, dir)
		}
	}
}

// moduleOf returns the module path declared in a go.mod file.
func moduleOf(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no module line")
}
