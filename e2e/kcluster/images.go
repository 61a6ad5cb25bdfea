package kcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Image names: hack/image tags ghcr.io/ironlb/<name>:<version> and :latest,
// and the chart deploys :latest (its appVersion) with IfNotPresent.
const (
	ImageRepo    = "ghcr.io/ironlb"
	PauseImage   = ImageRepo + "/pause:latest"
	TestServer   = ImageRepo + "/testserver:latest"
	imageVersion = "kcluster"
)

// imageNames are the archives every node imports.
var imageNames = []string{"pause", "controller", "speaker", "testserver"}

var (
	imagesOnce sync.Once
	imagesRoot string // the binaries, and the archives in images/
	imagesDir  string
	imagesErr  error
)

// TestMain runs a test binary's tests, then removes the images its
// clusters shared (RemoveImages); a package that starts clusters calls it
// from its own TestMain.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := RemoveImages(); err != nil {
		fmt.Fprintln(os.Stderr, "kcluster images:", err)
	}
	os.Exit(code)
}

// RemoveImages deletes the images built by this test binary; call it from
// TestMain after m.Run, when no cluster is left.
func RemoveImages() error {
	if imagesRoot == "" {
		return nil
	}
	return os.RemoveAll(imagesRoot)
}

// buildImages builds the images once per test binary (RemoveImages deletes
// them), the way `make image`
// does: static binaries (CGO_ENABLED=0, -trimpath, -s -w) packed by
// hack/image into docker-archive tarballs <dir>/<name>.tar.
func buildImages(repo string) (string, error) {
	imagesOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ironlb-kcluster-images-")
		if err != nil {
			imagesErr = err
			return
		}
		imagesRoot = dir
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", dir+"/",
			"./controller", "./speaker", "./e2e/kcluster/testimages/pause", "./e2e/kcluster/testimages/testserver")
		build.Dir = repo
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			imagesErr = fmt.Errorf("go build of the image binaries: %w\n%s", err, out)
			return
		}
		pack := exec.Command("go", "run", "./hack/image", "-version", imageVersion, "-bin", dir,
			"-out", filepath.Join(dir, "images"), "-only", "pause,controller,speaker,testserver")
		pack.Dir = repo
		if out, err := pack.CombinedOutput(); err != nil {
			imagesErr = fmt.Errorf("hack/image: %w\n%s", err, out)
			return
		}
		imagesDir = filepath.Join(dir, "images")
	})
	return imagesDir, imagesErr
}

// ImportImages imports more docker-archive tarballs (built by hack/image,
// e.g. an earlier version's images) into every node, as a user loads images
// into nodes that have no registry.
func (c *Cluster) ImportImages(ctx context.Context, files ...string) error {
	for _, n := range c.nodes {
		for _, f := range files {
			if err := n.importImage(ctx, c.Tools.Ctr, f); err != nil {
				return err
			}
		}
	}
	return nil
}
