package kcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// cniBinDir is where Debian's containernetworking-plugins installs them.
const cniBinDir = "/usr/lib/cni"

// Tools are the programs a cluster runs.
type Tools struct {
	Kubelet, KubeProxy, Scheduler, ControllerManager, Kubectl, Helm string
	Containerd, Ctr, Runc, Nsenter, Unshare                         string
}

// findTools locates the Kubernetes binaries in $IRONLB_TOOLS_BIN or
// <repo>/.tools/bin (`make tools`) and the runtime in PATH (Debian
// packages, hack/install-deps.sh). A missing one is an error saying how to
// get it.
func findTools(repo string) (Tools, error) {
	bin := os.Getenv(kubeapi.EnvToolsBin)
	if bin == "" {
		bin = filepath.Join(repo, ".tools", "bin")
	}
	var t Tools
	for _, e := range []struct {
		dst  *string
		name string
	}{
		{&t.Kubelet, "kubelet"}, {&t.KubeProxy, "kube-proxy"}, {&t.Scheduler, "kube-scheduler"},
		{&t.ControllerManager, "kube-controller-manager"}, {&t.Kubectl, "kubectl"}, {&t.Helm, "helm"},
	} {
		p := filepath.Join(bin, e.name)
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o111 == 0 {
			return t, fmt.Errorf("%s not found in %s: run `make tools` (hack/build-tools.sh)", e.name, bin)
		}
		*e.dst = p
	}
	for _, e := range []struct {
		dst       *string
		name, pkg string
	}{
		{&t.Containerd, "containerd", "containerd"}, {&t.Ctr, "ctr", "containerd"}, {&t.Runc, "runc", "runc"},
		{&t.Nsenter, "nsenter", "util-linux"}, {&t.Unshare, "unshare", "util-linux"},
	} {
		p, err := exec.LookPath(e.name)
		if err != nil {
			return t, fmt.Errorf("%s not found in PATH: run hack/install-deps.sh (Debian package %s)", e.name, e.pkg)
		}
		*e.dst = p
	}
	if _, err := os.Stat(filepath.Join(cniBinDir, "bridge")); err != nil {
		return t, fmt.Errorf("CNI plugins not found in %s: run hack/install-deps.sh (Debian package containernetworking-plugins)", cniBinDir)
	}
	return t, nil
}
