package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTagFor(t *testing.T) {
	for _, tc := range []struct {
		repo, version, want, err string
	}{
		{repo: "ghcr.io/ironlb", version: "v0.1.0", want: "ghcr.io/ironlb/speaker:v0.1.0"},
		{repo: "ghcr.io/ironlb", version: "v0.1.0-3-g1a2b3c4-dirty", want: "ghcr.io/ironlb/speaker:v0.1.0-3-g1a2b3c4-dirty"},
		{repo: "ghcr.io/ironlb", version: "1a2b3c4", want: "ghcr.io/ironlb/speaker:1a2b3c4"},
		{repo: "ghcr.io/ironlb", version: "1.0+build/7", want: "ghcr.io/ironlb/speaker:1.0-build-7"},
		{repo: "ghcr.io/ironlb", version: "-rc", want: "ghcr.io/ironlb/speaker:v-rc"},
		{repo: "ghcr.io/ironlb", version: strings.Repeat("a", 200), want: "ghcr.io/ironlb/speaker:" + strings.Repeat("a", 128)},
		{repo: "Bad Repo", version: "v1", err: "image reference for speaker"},
	} {
		got, err := tagFor(tc.repo, "speaker", tc.version)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("tagFor(%q, %q): error %v, want one containing %q", tc.repo, tc.version, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("tagFor(%q, %q) = %v, %v; want %s", tc.repo, tc.version, got, err, tc.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		epoch   string
		created time.Time
		err     string
	}{
		{name: "defaults", args: []string{"-version", "v1"}, created: time.Unix(0, 0)},
		{name: "source date", args: []string{"-version", "v1"}, epoch: "1700000000", created: time.Unix(1700000000, 0)},
		{name: "no version", args: nil, err: "-version is required"},
		{name: "bad source date", args: []string{"-version", "v1"}, epoch: "yesterday", err: "SOURCE_DATE_EPOCH"},
		{name: "stray argument", args: []string{"-version", "v1", "controller"}, err: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseArgs(tc.args, tc.epoch)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.opts.created.Equal(tc.created) {
				t.Errorf("created %v, want %v", c.opts.created, tc.created)
			}
			if c.binDir != "bin" || c.outDir != "bin/images" || c.opts.repo != "ghcr.io/ironlb" || c.alsoTag != "latest" {
				t.Errorf("defaults: %+v", c)
			}
		})
	}
}

// TestStaticArch: an image FROM scratch can only run a static binary.
func TestStaticArch(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "static")
	cmd := exec.Command(goCommand(t), "build", "-o", static, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Any dynamically linked system binary will do; /bin/sh always is one
	// on the Debian machines this runs on.
	for _, tc := range []struct {
		name, path string
		data       []byte
		want, err  string
	}{
		{name: "static Go binary", path: static, want: runtime.GOARCH},
		{name: "dynamic binary", path: "/bin/sh", err: "dynamically linked"},
		{name: "shell script", data: []byte("#!/bin/sh\necho hi\n"), err: "not an ELF executable"},
		{name: "empty", data: []byte{}, err: "not an ELF executable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.path != "" {
				var err error
				if data, err = os.ReadFile(tc.path); err != nil {
					t.Fatal(err)
				}
			}
			got, err := staticArch(data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("staticArch = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRootfsLayout(t *testing.T) {
	entries := rootfs("/usr/local/bin/speaker", []byte("bin"), []byte("ca"))
	seen := map[string]entry{}
	for _, e := range entries {
		if _, dup := seen[e.path]; dup {
			t.Errorf("%s listed twice", e.path)
		}
		seen[e.path] = e
		// A tar must list a directory before what it holds, or some
		// runtimes create the parent with default permissions.
		if parent := filepath.Dir(e.path); parent != "/" {
			if p, ok := seen[parent]; !ok || !p.dir {
				t.Errorf("%s comes before its directory %s", e.path, parent)
			}
		}
	}
	if e := seen["/usr/local/bin/speaker"]; string(e.data) != "bin" || e.mode != 0o755 {
		t.Errorf("binary entry %+v", e)
	}
	if e := seen["/home/nonroot"]; e.uid != nonrootUID || !e.dir {
		t.Errorf("home of nonroot %+v", e)
	}
	if e := seen["/tmp"]; e.mode != 0o1777 {
		t.Errorf("/tmp mode %o, want 1777", e.mode)
	}
}

func TestSelectComponents(t *testing.T) {
	names := func(cs []component) string {
		var n []string
		for _, c := range cs {
			n = append(n, c.name)
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct {
		only []string
		want string
		err  string
	}{
		{want: "controller,speaker,ironlbctl"},
		{only: []string{"pause", "testserver"}, want: "pause,testserver"},
		{only: []string{"speaker", "pause"}, want: "speaker,pause"},
		{only: []string{"pause", "nginx"}, err: `flag -only: unknown image "nginx"`},
	} {
		got, err := selectComponents(tc.only)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("selectComponents(%q): error %v, want %q", tc.only, err, tc.err)
			}
			continue
		}
		if err != nil || names(got) != tc.want {
			t.Errorf("selectComponents(%q) = %s, %v; want %s", tc.only, names(got), err, tc.want)
		}
		for _, c := range got {
			if len(tc.only) > 0 && c.optional {
				t.Errorf("selectComponents(%q): %s is optional; a named image must be built", tc.only, c.name)
			}
		}
	}
}
