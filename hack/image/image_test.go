package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImagesRoundTrip builds the controller and speaker images from freshly
// built static binaries, reads the archives back as `docker load` would, and
// runs the binary extracted from each image.
func TestImagesRoundTrip(t *testing.T) {
	root := repoRoot(t)
	binDir := t.TempDir()
	goBuild(t, root, binDir, "./controller", "./speaker")
	outDir := t.TempDir()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	caData := []byte("-----BEGIN CERTIFICATE-----\ntest bundle\n-----END CERTIFICATE-----\n")
	if err := os.WriteFile(caFile, caData, 0o644); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	const epoch = 1700000000
	err := run([]string{"-bin", binDir, "-out", outDir, "-ca-certs", caFile, "-version", "v1.2.3-4-gabcdef0-dirty"}, "1700000000", &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	t.Logf("%s", log.String())
	// ironlbctl is optional: no binary, no image, no error.
	if !strings.Contains(log.String(), "ironlbctl: no ") {
		t.Errorf("log does not report ironlbctl as skipped:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(outDir, "ironlbctl.tar")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ironlbctl.tar: want none without bin/ironlbctl, stat: %v", err)
	}

	for _, tc := range []struct {
		name, user, usage string
	}{
		{name: "controller", user: "65532:65532", usage: "-ip-mode"},
		{name: "speaker", user: "0:0", usage: "-datapath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(outDir, tc.name+".tar")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %.1f MB", path, float64(fi.Size())/1e6)
			for _, ref := range []string{"ghcr.io/ironlb/" + tc.name + ":v1.2.3-4-gabcdef0-dirty", "ghcr.io/ironlb/" + tc.name + ":latest"} {
				tag, err := name.NewTag(ref, name.StrictValidation)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tarball.ImageFromPath(path, &tag); err != nil {
					t.Errorf("tag %s in %s: %v", ref, path, err)
				}
			}
			tag, _ := name.NewTag("ghcr.io/ironlb/" + tc.name + ":latest")
			img, err := tarball.ImageFromPath(path, &tag)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			bin := "/usr/local/bin/" + tc.name
			if got := cfg.Config.Entrypoint; len(got) != 1 || got[0] != bin {
				t.Errorf("entrypoint %q, want [%s]", got, bin)
			}
			if cfg.Config.User != tc.user {
				t.Errorf("user %q, want %q", cfg.Config.User, tc.user)
			}
			if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
				t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, runtime.GOARCH)
			}
			if !cfg.Created.Time.Equal(time.Unix(epoch, 0)) {
				t.Errorf("created %v, want SOURCE_DATE_EPOCH %d", cfg.Created.Time, epoch)
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.source":  "https://github.com/ironlb/ironlb",
				"org.opencontainers.image.version": "v1.2.3-4-gabcdef0-dirty",
				"org.opencontainers.image.title":   tc.name,
				"org.opencontainers.image.created": "2023-11-14T22:13:20Z",
			} {
				if got := cfg.Config.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}
			if len(cfg.History) != 1 || !cfg.History[0].Created.Time.Equal(time.Unix(epoch, 0)) {
				t.Errorf("history %+v, want one entry created at SOURCE_DATE_EPOCH", cfg.History)
			}
			layers, err := img.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("layers: %d (%v), want 1", len(layers), err)
			}

			files := extract(t, img)
			want, err := os.ReadFile(filepath.Join(binDir, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if f, ok := files[bin]; !ok || !bytes.Equal(f.data, want) || f.mode != 0o755 {
				t.Fatalf("%s in the image: present %v, mode %o, identical to the built binary %v", bin, ok, f.mode, bytes.Equal(f.data, want))
			}
			if !bytes.Equal(files[caPath].data, caData) {
				t.Errorf("%s is not the CA bundle given", caPath)
			}
			if !strings.Contains(string(files["/etc/passwd"].data), "nonroot:x:65532:65532:") {
				t.Errorf("/etc/passwd lacks nonroot 65532:\n%s", files["/etc/passwd"].data)
			}
			if !strings.Contains(string(files["/etc/group"].data), "nonroot:x:65532:") {
				t.Errorf("/etc/group lacks nonroot 65532:\n%s", files["/etc/group"].data)
			}

			// The extracted binary runs: it is the executable itself, whole.
			exe := filepath.Join(t.TempDir(), tc.name)
			if err := os.WriteFile(exe, files[bin].data, 0o755); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command(exe, "-h").CombinedOutput() // -h exits 2 after the usage
			if !strings.Contains(string(out), "Usage of "+tc.name) || !strings.Contains(string(out), tc.usage) {
				t.Errorf("%s -h from the image printed no usage naming %s:\n%s", tc.name, tc.usage, out)
			}
		})
	}
}

type file struct {
	mode int64
	data []byte
}

// extract reads the image's flattened filesystem, as a runtime unpacks it.
func extract(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("image filesystem: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("image filesystem %s: %v", h.Name, err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = file{mode: h.Mode, data: data}
	}
}

func goBuild(t *testing.T, root, outDir string, pkgs ...string) {
	t.Helper()
	cmd := exec.Command(goCommand(t), append([]string{"build", "-trimpath", "-o", outDir + "/"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", pkgs, err, out)
	}
}

// goCommand is the go command running the test: `go test` puts its
// GOROOT/bin first in PATH.
func goCommand(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
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
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
