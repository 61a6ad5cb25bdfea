package kubeapi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fatalTB records t.Fatal instead of failing the real test, and ends the
// calling goroutine the way a real t.Fatal does.
type fatalTB struct {
	testing.TB
	mu     sync.Mutex
	fatals []string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) {
	f.record(fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fatalTB) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatals = append(f.fatals, msg)
}

// startExpectingFatal runs Start with a recording TB and returns the t.Fatal
// message; it fails the test if Start returned normally.
func startExpectingFatal(t *testing.T, opts Options) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan *Server)
	go func() {
		var s *Server
		defer func() { done <- s }()
		s = Start(f, opts)
	}()
	s := <-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if s != nil || len(f.fatals) == 0 {
		t.Fatalf("Start returned (server %v) without calling t.Fatal", s != nil)
	}
	return f.fatals[0]
}

func TestStartFailsLoudly(t *testing.T) {
	emptyDir := t.TempDir()
	notExecutable := t.TempDir()
	writeFile(t, filepath.Join(notExecutable, "kube-apiserver"), "#!/bin/sh\n")
	badCRDs := t.TempDir()
	writeFile(t, filepath.Join(badCRDs, "deploy.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
	realBin := filepath.Join(repoRootT(t), ".tools", "bin")

	tests := []struct {
		name string
		env  string // value for IRONLB_TOOLS_BIN
		opts Options
		want []string
	}{
		{
			name: "BinDirWithoutAPIServer",
			opts: Options{BinDir: emptyDir, SkipCRDs: true},
			want: []string{"kube-apiserver not found", emptyDir, "make tools"},
		},
		{
			name: "EnvBinDirWithoutAPIServer",
			env:  emptyDir,
			opts: Options{SkipCRDs: true},
			want: []string{"kube-apiserver not found", "$IRONLB_TOOLS_BIN", "make tools"},
		},
		{
			name: "APIServerNotExecutable",
			opts: Options{BinDir: notExecutable, SkipCRDs: true},
			want: []string{"kube-apiserver not found", "make tools"},
		},
		{
			name: "MissingCRDDir",
			opts: Options{BinDir: realBin, CRDDir: filepath.Join(emptyDir, "nope")},
			want: []string{"Options.CRDDir", "is not a directory"},
		},
		{
			name: "NotACRD",
			opts: Options{BinDir: realBin, CRDDir: badCRDs},
			want: []string{"deploy.yaml", "document 1", "Deployment"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvToolsBin, tc.env)
			msg := startExpectingFatal(t, tc.opts)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("t.Fatal message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// fakeRepo lays out a repository with go.mod, .tools/bin/kube-apiserver and
// optionally manifests/crds, and returns its root.
func fakeRepo(t *testing.T, withCRDDir bool) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module github.com/ironlb/ironlb\n\ngo 1.25.0\n")
	bin := filepath.Join(root, ".tools", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "kube-apiserver"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A nested module, as in hack/kube: the walk must skip it.
	nested := filepath.Join(root, "hack", "kube")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(nested, "go.mod"), "module github.com/ironlb/ironlb/hack/kube\n")
	if withCRDDir {
		if err := os.MkdirAll(filepath.Join(root, "manifests", "crds"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolve(t *testing.T) {
	repo := fakeRepo(t, true)
	repoNoCRDs := fakeRepo(t, false)
	otherBin := t.TempDir()
	if err := os.WriteFile(filepath.Join(otherBin, "kube-apiserver"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()

	tests := []struct {
		name      string
		wd        string
		envBin    string
		noEtcd    bool
		opts      Options
		wantBin   string
		wantCRDs  string
		wantErr   string
		wantCIDRs string
	}{
		{
			name:      "Defaults",
			wd:        filepath.Join(repo, "hack", "kube"),
			wantBin:   filepath.Join(repo, ".tools", "bin", "kube-apiserver"),
			wantCRDs:  filepath.Join(repo, "manifests", "crds"),
			wantCIDRs: DefaultServiceCIDRs,
		},
		{
			name:     "NoDefaultCRDDirIsFine",
			wd:       repoNoCRDs,
			wantBin:  filepath.Join(repoNoCRDs, ".tools", "bin", "kube-apiserver"),
			wantCRDs: "",
		},
		{
			name:     "EnvOverridesRepoBin",
			wd:       repo,
			envBin:   otherBin,
			wantBin:  filepath.Join(otherBin, "kube-apiserver"),
			wantCRDs: filepath.Join(repo, "manifests", "crds"),
		},
		{
			name:     "OptionOverridesEnv",
			wd:       repo,
			envBin:   t.TempDir(),
			opts:     Options{BinDir: otherBin},
			wantBin:  filepath.Join(otherBin, "kube-apiserver"),
			wantCRDs: filepath.Join(repo, "manifests", "crds"),
		},
		{
			name:     "SkipCRDs",
			wd:       repo,
			opts:     Options{SkipCRDs: true},
			wantBin:  filepath.Join(repo, ".tools", "bin", "kube-apiserver"),
			wantCRDs: "",
		},
		{
			name:      "ExplicitEverythingOutsideRepo",
			wd:        outside,
			opts:      Options{BinDir: otherBin, CRDDir: outside, ServiceCIDRs: "192.0.2.0/25"},
			wantBin:   filepath.Join(otherBin, "kube-apiserver"),
			wantCRDs:  outside,
			wantCIDRs: "192.0.2.0/25",
		},
		{
			name:    "OutsideRepoNeedsBinDir",
			wd:      outside,
			opts:    Options{SkipCRDs: true},
			wantErr: "no go.mod for module github.com/ironlb/ironlb",
		},
		{
			name:    "OutsideRepoNeedsCRDDir",
			wd:      outside,
			opts:    Options{BinDir: otherBin},
			wantErr: "locating manifests/crds",
		},
		{
			name:    "NoEtcd",
			wd:      repo,
			noEtcd:  true,
			wantErr: "etcd not found in PATH: run hack/install-deps.sh",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := env{
				getenv: func(k string) string {
					if k == EnvToolsBin {
						return tc.envBin
					}
					return ""
				},
				getwd: func() (string, error) { return tc.wd, nil },
				lookPath: func(name string) (string, error) {
					if tc.noEtcd {
						return "", errors.New("not found")
					}
					return "/usr/bin/" + name, nil
				},
				stat: os.Stat,
			}
			r, err := tc.opts.resolve(e)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("resolve error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if r.apiserverBin != tc.wantBin {
				t.Errorf("apiserverBin = %q, want %q", r.apiserverBin, tc.wantBin)
			}
			if r.crdDir != tc.wantCRDs {
				t.Errorf("crdDir = %q, want %q", r.crdDir, tc.wantCRDs)
			}
			if tc.wantCIDRs != "" && r.serviceCIDRs != tc.wantCIDRs {
				t.Errorf("serviceCIDRs = %q, want %q", r.serviceCIDRs, tc.wantCIDRs)
			}
			if r.nodePortRange != DefaultNodePortRange {
				t.Errorf("nodePortRange = %q, want %q", r.nodePortRange, DefaultNodePortRange)
			}
		})
	}
}

func TestLoadCRDs(t *testing.T) {
	const crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: %s\nspec:\n  group: test.ironlb.io\n"
	tests := []struct {
		name      string
		files     map[string]string
		wantNames []string
		wantErr   []string
	}{
		{
			name: "SeveralFilesAndDocuments",
			files: map[string]string{
				"b.yaml":    fmt.Sprintf(crd, "bs.test.ironlb.io"),
				"a.yml":     "# header\n---\n" + fmt.Sprintf(crd, "as.test.ironlb.io") + "---\n" + fmt.Sprintf(crd, "cs.test.ironlb.io") + "---\n",
				"notes.txt": "ignored",
			},
			wantNames: []string{"as.test.ironlb.io", "cs.test.ironlb.io", "bs.test.ironlb.io"},
		},
		{
			name:      "Empty",
			files:     map[string]string{},
			wantNames: nil,
		},
		{
			name:    "OtherKind",
			files:   map[string]string{"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
			wantErr: []string{"x.yaml", "document 1", `"v1"/"ConfigMap"`},
		},
		{
			name:    "OldCRDVersion",
			files:   map[string]string{"x.yaml": "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n"},
			wantErr: []string{"x.yaml", "v1beta1"},
		},
		{
			name:    "UnknownField",
			files:   map[string]string{"x.yaml": fmt.Sprintf(crd, "xs.test.ironlb.io") + "  bogus: true\n"},
			wantErr: []string{"x.yaml", "document 1", "bogus"},
		},
		{
			name:    "NoName",
			files:   map[string]string{"x.yaml": "---\n" + fmt.Sprintf(crd, "xs.test.ironlb.io") + "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"},
			wantErr: []string{"x.yaml", "document 2", "metadata.name"},
		},
		{
			name:    "BrokenYAML",
			files:   map[string]string{"x.yaml": "apiVersion: [\n"},
			wantErr: []string{"x.yaml", "document 1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			crds, err := loadCRDs(dir)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("loadCRDs succeeded with %d CRDs, want an error", len(crds))
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("loadCRDs: %v", err)
			}
			var names []string
			for _, c := range crds {
				names = append(names, c.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.wantNames) {
				t.Errorf("CRDs = %v, want %v (files in name order)", names, tc.wantNames)
			}
		})
	}
}

func TestRepoRootSkipsNestedModules(t *testing.T) {
	repo := fakeRepo(t, false)
	got, err := repoRoot(filepath.Join(repo, "hack", "kube"))
	if err != nil {
		t.Fatal(err)
	}
	if got != repo {
		t.Errorf("repoRoot = %q, want %q", got, repo)
	}
}

func TestFileSafe(t *testing.T) {
	if got := fileSafe("system:serviceaccount:ironlb-system:ironlb/controller"); got != "system_serviceaccount_ironlb-system_ironlb_controller" {
		t.Errorf("fileSafe = %q", got)
	}
}

// repoRootT is this repository's root, for the real .tools/bin.
func repoRootT(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".tools", "bin", "kube-apiserver")); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("kube-apiserver not found in %s/.tools/bin: run `make tools`", root)
	}
	return root
}

func TestSweepStaleTmpfs(t *testing.T) {
	base := t.TempDir()
	// A process that has exited: its pid names no process (barring reuse).
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name, owner string) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			writeFile(t, filepath.Join(d, "owner"), owner)
		}
		return d
	}
	live := mk(tmpfsPrefix+"live", strconv.Itoa(os.Getpid()))
	stale := mk(tmpfsPrefix+"stale", strconv.Itoa(dead.Process.Pid))
	noOwner := mk(tmpfsPrefix+"creating", "")
	other := mk("someone-else", strconv.Itoa(dead.Process.Pid))

	sweepStaleTmpfs(base)

	for d, wantExists := range map[string]bool{live: true, stale: false, noOwner: true, other: true} {
		_, err := os.Stat(d)
		if exists := err == nil; exists != wantExists {
			t.Errorf("%s exists = %v, want %v", filepath.Base(d), exists, wantExists)
		}
	}
}

func TestPortTaken(t *testing.T) {
	log := filepath.Join(t.TempDir(), "x.log")
	writeFile(t, log, "listen tcp 127.0.0.1:1: bind: address already in use\n")
	offset := fileSize(log)
	if !portTaken(log, 0) {
		t.Error("portTaken from offset 0 = false, want true")
	}
	if portTaken(log, offset) {
		t.Error("portTaken past the earlier attempt's lines = true, want false")
	}
	if portTaken(filepath.Join(t.TempDir(), "missing.log"), 0) {
		t.Error("portTaken of a missing log = true, want false")
	}
}
