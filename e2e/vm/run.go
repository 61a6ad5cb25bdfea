package vm

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RunTests builds opts.Package's vmguest tests, boots them in a fresh VM
// and fails t unless they pass. Anything missing (qemu, busybox-static, the
// kernel package) fails t with a message saying what to install; nothing is
// skipped. Console lines go to t's log as they arrive.
func RunTests(t testing.TB, opts Options) Result {
	t.Helper()
	res, err := run(context.Background(), t, opts)
	if err != nil {
		t.Fatalf("vm: %v%s", err, tail(res.Output, 15))
	}
	if res.ExitCode != 0 {
		t.Fatalf("vm: guest tests of %s failed with exit code %d (boot %s, tests %s); the guest's console is above",
			opts.Package, res.ExitCode, res.Boot.Round(time.Millisecond), res.Tests.Round(time.Millisecond))
	}
	t.Logf("vm: %s passed in the guest: build %s, boot %s, tests %s, qemu total %s",
		opts.Package, res.Build.Round(time.Millisecond), res.Boot.Round(time.Millisecond),
		res.Tests.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	return res
}

func tail(lines []string, n int) string {
	if len(lines) == 0 {
		return ""
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\nlast console lines:\n" + strings.Join(lines, "\n")
}

func run(ctx context.Context, t testing.TB, opts Options) (Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	qemu, err := exec.LookPath(qemuBinary)
	if err != nil {
		return Result{}, fmt.Errorf("%s not found: install Debian's qemu-system-x86 (hack/install-deps.sh): %w", qemuBinary, err)
	}
	busybox, err := staticBusybox()
	if err != nil {
		return Result{}, err
	}
	root, err := moduleRoot()
	if err != nil {
		return Result{}, err
	}
	k, err := prepareKernel(ctx, filepath.Join(root, ".cache", "vm"), t.Logf)
	if err != nil {
		return Result{}, err
	}
	mods, err := k.deps.loadOrder(append(append([]string{}, DefaultModules...), opts.Modules...))
	if err != nil {
		return Result{}, fmt.Errorf("kernel %s: %w", k.version, err)
	}

	work := t.TempDir()
	start := time.Now()
	testBin, initBin, err := buildGuest(ctx, root, work, opts)
	if err != nil {
		return Result{}, err
	}
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := writeInitramfs(initrd, k, mods, initBin, testBin, busybox, opts.testArgs()); err != nil {
		return Result{}, err
	}
	build := time.Since(start)
	t.Logf("vm: kernel %s, %d modules, guest built in %s; booting", k.version, len(mods), build.Round(time.Millisecond))

	// boot reads the console on this goroutine and returns only once qemu's
	// output is fully read: the sink is never called after the test ends.
	sink := func(l string) {
		t.Log("guest: " + l)
		if opts.Output != nil {
			fmt.Fprintln(opts.Output, l)
		}
	}
	res, err := boot(ctx, qemu, k.vmlinuz, initrd, opts, sink)
	res.Build = build
	return res, err
}
