package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// kernelMeta is the Debian metapackage that names the current cloud kernel.
const kernelMeta = "linux-image-cloud-amd64"

// EnvKernel pins the kernel version (e.g. 6.1.0-56-cloud-amd64) instead of
// asking apt-cache which one linux-image-cloud-amd64 depends on.
const EnvKernel = "IRONLB_VM_KERNEL"

// kernel is an unpacked kernel package in the cache.
type kernel struct {
	version string
	dir     string // <cache>/<version>
	vmlinuz string
	modDir  string // the /lib/modules/<version> tree
	deps    *moduleDeps
}

// completeMarker is written last: a directory without it is a half-done
// extraction (an interrupted run) and is redone.
const completeMarker = ".complete"

// parseKernelDepends reads `apt-cache depends linux-image-cloud-amd64`
// output and returns the version of the linux-image package it depends on.
func parseKernelDepends(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
		if !ok {
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(dep), "linux-image-"); ok && v != "" && !strings.ContainsAny(v, " <>/") {
			return v, nil
		}
	}
	return "", fmt.Errorf("no \"Depends: linux-image-<version>\" line in apt-cache output %q", out)
}

// resolveKernelVersion picks the kernel: $IRONLB_VM_KERNEL, else the one
// the metapackage depends on, else (apt lists missing, offline) the newest
// complete one in the cache.
func resolveKernelVersion(ctx context.Context, cache string) (string, error) {
	if v := os.Getenv(EnvKernel); v != "" {
		return v, nil
	}
	ask := func() (string, error) {
		out, err := exec.CommandContext(ctx, "apt-cache", "depends", kernelMeta).Output()
		if err != nil {
			return "", err
		}
		return parseKernelDepends(out)
	}
	v, aptErr := ask()
	if aptErr == nil {
		return v, nil
	}
	cached, _ := filepath.Glob(filepath.Join(cache, "*", completeMarker))
	if len(cached) == 0 && os.Geteuid() == 0 {
		// A fresh machine may have no package lists yet (hack/install-deps.sh
		// updates them only when it installs something).
		if out, err := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); err != nil {
			aptErr = fmt.Errorf("%w; apt-get update: %v: %s", aptErr, err, bytes.TrimSpace(out))
		} else if v, err := ask(); err == nil {
			return v, nil
		} else {
			aptErr = err
		}
	}
	if len(cached) > 0 {
		slices.Sort(cached)
		return filepath.Base(filepath.Dir(cached[len(cached)-1])), nil
	}
	return "", fmt.Errorf("cannot tell which kernel to use: `apt-cache depends %s` failed (%v) and %s holds no kernel; run `apt-get update`, or set %s", kernelMeta, aptErr, cache, EnvKernel)
}

// prepareKernel returns the cached kernel, downloading and unpacking it
// first if needed.
func prepareKernel(ctx context.Context, cache string, logf func(string, ...any)) (*kernel, error) {
	version, err := resolveKernelVersion(ctx, cache)
	if err != nil {
		return nil, err
	}
	k := &kernel{version: version, dir: filepath.Join(cache, version)}
	k.vmlinuz = filepath.Join(k.dir, "vmlinuz")
	k.modDir = filepath.Join(k.dir, "lib", "modules", version)

	unlock, err := lockFile(filepath.Join(cache, "lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(k.dir, completeMarker)); err != nil {
		logf("vm: kernel %s not cached; downloading linux-image-%s", version, version)
		if err := fetchKernel(ctx, k); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", version, err)
		}
	}
	f, err := os.Open(filepath.Join(k.modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if k.deps, err = parseModulesDep(f); err != nil {
		return nil, err
	}
	return k, nil
}

// fetchKernel downloads the package with apt-get, unpacks it with dpkg -x
// and computes modules.dep with depmod -b (the package does not ship it:
// the installer generates it). Only vmlinuz and the modules tree are kept.
func fetchKernel(ctx context.Context, k *kernel) error {
	for _, tool := range []string{"apt-get", "dpkg", "depmod"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (a Debian host with kmod installed is needed: hack/install-deps.sh): %w", tool, err)
		}
	}
	if err := os.RemoveAll(k.dir); err != nil {
		return err
	}
	tmp := k.dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// apt-get download drops privileges to _apt, which must be able to
	// write here.
	_ = os.Chmod(tmp, 0o777)
	run := func(dir, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	pkg := "linux-image-" + k.version
	if err := run(tmp, "apt-get", "download", "-q", pkg); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download left %d %s .deb files in %s", len(debs), pkg, tmp)
	}
	root := filepath.Join(tmp, "root")
	if err := run(tmp, "dpkg", "-x", debs[0], root); err != nil {
		return err
	}
	if err := run(tmp, "depmod", "-b", root, k.version); err != nil {
		return err
	}
	out := k.dir + ".new"
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "lib", "modules"), 0o755); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(root, "boot", "vmlinuz-"+k.version), filepath.Join(out, "vmlinuz")); err != nil {
		return fmt.Errorf("no vmlinuz in the package: %w", err)
	}
	if err := os.Rename(filepath.Join(root, "lib", "modules", k.version), filepath.Join(out, "lib", "modules", k.version)); err != nil {
		return fmt.Errorf("no modules tree in the package: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, completeMarker), []byte(pkg+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(out, k.dir); err != nil {
		return errors.Join(err, os.RemoveAll(out))
	}
	return nil
}
