// Package controller_test checks the IronLB controller end to end: the real
// bin/controller process against a real kube-apiserver and etcd, running
// under its own least-privilege RBAC.
package controller_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// controllerBin is the controller binary under test, built fresh by TestMain
// so a stale bin/ can never be what is tested.
var controllerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ironlb-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	controllerBin = filepath.Join(dir, "controller")
	build := exec.Command("go", "build", "-o", controllerBin, "github.com/ironlb/ironlb/controller")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build controller:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
