package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
// build cache makes repeated builds cheap.
func Build() (Binaries, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ironlb-bin-")
		if err != nil {
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
