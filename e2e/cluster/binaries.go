package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Binaries are the IronLB programs under test.
type Binaries struct{ Controller, Speaker string }

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
)

// Build compiles bin/controller and bin/speaker once per test binary into
// a temporary directory, so a stale bin/ is never what is tested. The Go
// build cache makes repeated builds cheap. The directory is named after the
// test process, and each Build removes those of processes that are gone
// (a test binary has no hook that runs after its last test).
func Build() (Binaries, error) {
	buildOnce.Do(func() {
		parent := filepath.Join(os.TempDir(), "ironlb-bin")
		removeDead(parent)
		dir := filepath.Join(parent, strconv.Itoa(os.Getpid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		built = Binaries{Controller: filepath.Join(dir, "controller"), Speaker: filepath.Join(dir, "speaker")}
		for pkg, out := range map[string]string{
			"github.com/ironlb/ironlb/controller": built.Controller,
			"github.com/ironlb/ironlb/speaker":    built.Speaker,
		} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
				return
			}
		}
	})
	return built, buildErr
}

// removeDead removes the binaries of test processes that no longer run.
func removeDead(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if !vlan.PIDAlive(pid) {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}
