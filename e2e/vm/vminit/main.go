// Command vminit is the init process of IronLB's test VM (see package
// e2e/vm): it mounts the pseudo file systems, loads the kernel modules listed
// in the initramfs, brings up loopback, runs the test binary and reports its
// exit code on the console before powering off.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/e2e/vm/guest"
)

func main() {
	start := time.Now()
	code := 125 // the guest could not run the tests
	if err := setup(); err != nil {
		fmt.Printf("vminit: %v\n", err)
	} else {
		fmt.Printf("%s after %s in the guest\n", guest.ReadySentinel, time.Since(start).Round(time.Millisecond))
		code = runTests()
	}
	fmt.Printf("%s%d\n", guest.ExitSentinel, code)
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Printf("vminit: power off: %v\n", err)
	}
	// Returning would panic the kernel (init exited), which with panic=-1
	// and qemu's -no-reboot also ends the run.
	select {}
}

func setup() error {
	mounts := []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	if err := loadModules(); err != nil {
		return err
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

func loadModules() error {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return err
	}
	root := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	f, err := os.Open(guest.ModulesFile)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := strings.TrimSpace(sc.Text())
		if m == "" {
			continue
		}
		if err := loadModule(filepath.Join(root, m)); err != nil {
			return err
		}
	}
	return sc.Err()
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load %s: %w", path, err)
	}
	return nil
}

func runTests() int {
	raw, err := os.ReadFile(guest.ArgsFile)
	if err != nil {
		fmt.Printf("vminit: %v\n", err)
		return 125
	}
	var args []string
	for _, a := range strings.Split(string(raw), "\n") {
		if a != "" {
			args = append(args, a)
		}
	}
	cmd := exec.Command(guest.TestBinary, args...)
	cmd.Dir = "/tmp"
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stdout
	cmd.Env = []string{"PATH=/bin:/sbin", "HOME=/root", "TMPDIR=/tmp", guest.EnvInVM + "=1"}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 {
			fmt.Printf("vminit: test binary killed: %v\n", ee)
			return 126
		}
		return ee.ExitCode()
	default:
		fmt.Printf("vminit: run %s: %v\n", guest.TestBinary, err)
		return 125
	}
}
