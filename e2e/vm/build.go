package vm

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ironlb/ironlb/e2e/vm/guest"
)

// GuestTag is the build tag of guest-side test files.
const GuestTag = "vmguest"

// goTool finds the go command: the one on PATH, else the one in $GOROOT
// (go test sets it for test binaries).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// buildGuest compiles the package's tests and vminit as static binaries
// (CGO_ENABLED=0: the guest has no C library). The Go build cache makes
// repeated runs cheap.
func buildGuest(ctx context.Context, root, work string, o Options) (testBin, initBin string, err error) {
	testBin = filepath.Join(work, "ironlb.test")
	initBin = filepath.Join(work, "init")
	tags := strings.Join(append([]string{GuestTag}, o.Tags...), ",")
	gobuild := func(args ...string) error {
		cmd := exec.CommandContext(ctx, goTool(), args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := gobuild("test", "-c", "-tags", tags, "-ldflags=-s -w", "-o", testBin, o.Package); err != nil {
		return "", "", err
	}
	if _, err := os.Stat(testBin); err != nil {
		return "", "", fmt.Errorf("package %s has no test files for the vmguest build (nothing written to %s): %w", o.Package, testBin, err)
	}
	if err := gobuild("build", "-ldflags=-s -w", "-o", initBin, modulePath+"/e2e/vm/vminit"); err != nil {
		return "", "", err
	}
	return testBin, initBin, nil
}

// staticBusybox finds busybox and checks that it needs no dynamic loader
// (Debian's busybox-static does not; the plain busybox package does).
func staticBusybox() (string, error) {
	p, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox not found: install Debian's busybox-static (hack/install-deps.sh): %w", err)
	}
	f, err := elf.Open(p)
	if err != nil {
		return "", fmt.Errorf("busybox at %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked: install busybox-static instead of busybox", p)
		}
	}
	return p, nil
}

// busyboxApplets are linked into /bin so a developer can read the guest's
// state from a debugging shell, and /sbin/modprobe is what the kernel runs to
// load a scheduler module on demand.
var busyboxApplets = []string{"sh", "modprobe", "insmod", "lsmod", "cat", "ls", "mount", "ip", "sysctl", "ps", "dmesg", "poweroff", "sleep"}

// writeInitramfs packs the guest's root file system as an uncompressed newc
// archive: the kernel then needs no decompressor (slow under TCG), and the
// file is never stored.
func writeInitramfs(path string, k *kernel, modules []string, initBin, testBin, busybox string, args []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := newCPIOWriter(f)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "root", "etc", "sbin"} {
		w.Dir(d)
	}
	w.Symlink("var/run", "../run")
	// The kernel opens /dev/console for init's stdio before anything is
	// mounted: it must exist in the archive.
	w.CharDev("dev/console", 0o600, 5, 1)
	w.CharDev("dev/null", 0o666, 1, 3)
	w.CopyFile("init", initBin)
	w.CopyFile(strings.TrimPrefix(guest.TestBinary, "/"), testBin)
	w.CopyFile("bin/busybox", busybox)
	for _, a := range busyboxApplets {
		w.Symlink("bin/"+a, "busybox")
	}
	w.Symlink("sbin/modprobe", "../bin/busybox")
	modRoot := "lib/modules/" + k.version
	for _, m := range modules {
		w.CopyFile(modRoot+"/"+m, filepath.Join(k.modDir, m))
	}
	w.File(modRoot+"/modules.dep", 0o644, k.deps.subset(modules))
	w.File(strings.TrimPrefix(guest.ModulesFile, "/"), 0o644, []byte(strings.Join(modules, "\n")+"\n"))
	var ab bytes.Buffer
	for _, a := range args {
		if strings.Contains(a, "\n") {
			return fmt.Errorf("test argument %q holds a newline", a)
		}
		ab.WriteString(a + "\n")
	}
	w.File(strings.TrimPrefix(guest.ArgsFile, "/"), 0o644, ab.Bytes())
	if err := w.Close(); err != nil {
		return fmt.Errorf("write initramfs %s: %w", path, err)
	}
	return f.Close()
}
