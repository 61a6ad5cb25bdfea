package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ironlb/ironlb/e2e/vm/guest"
)

// qemuBinary is the emulator; TCG (software emulation) is used because KVM
// guests hang on the CI machines.
const qemuBinary = "qemu-system-x86_64"

// kernelCmdline: serial console, power off on panic instead of hanging
// (with -no-reboot qemu then exits), quiet boot. Spectre mitigations cost a
// lot under emulation and protect nothing in a throw-away guest.
const kernelCmdline = "console=ttyS0 panic=-1 quiet mitigations=off"

func qemuArgs(o Options, vmlinuz, initrd string) []string {
	return []string{
		"-accel", "tcg", "-cpu", "max",
		"-m", strconv.Itoa(o.MemoryMB), "-smp", strconv.Itoa(o.CPUs),
		// No default devices (NIC, VGA, disks): the guest needs none and
		// probing them costs boot time.
		"-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", kernelCmdline,
	}
}

// console follows the guest's serial output.
type console struct {
	start  time.Time
	lines  []string
	ready  time.Duration // 0 until the ready sentinel
	exit   int
	exited time.Duration // 0 until the exit sentinel
	sink   func(string)
}

func (c *console) line(l string) {
	l = strings.TrimRight(l, "\r")
	c.lines = append(c.lines, l)
	c.sink(l)
	switch {
	case strings.HasPrefix(l, guest.ReadySentinel) && c.ready == 0:
		c.ready = time.Since(c.start)
	case strings.HasPrefix(l, guest.ExitSentinel) && c.exited == 0:
		if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, guest.ExitSentinel))); err == nil {
			c.exit = n
			c.exited = time.Since(c.start)
		}
	}
}

func (c *console) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		l, err := br.ReadString('\n')
		if l != "" {
			c.line(strings.TrimSuffix(l, "\n"))
		}
		if err != nil {
			return
		}
	}
}

// boot runs qemu until the guest powers off or the timeout passes.
func boot(ctx context.Context, qemu, vmlinuz, initrd string, o Options, sink func(string)) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, qemuArgs(o, vmlinuz, initrd)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	c := &console{start: time.Now(), sink: sink}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start %s: %w", qemu, err)
	}
	c.read(out) // until qemu closes stdout, i.e. exits
	werr := cmd.Wait()
	res := Result{Output: c.lines, Total: time.Since(c.start), Boot: c.ready}
	if c.exited > 0 {
		res.ExitCode = c.exit
		res.Tests = c.exited - c.ready
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("guest did not finish within %s (ready after %s: %v); qemu killed", o.Timeout, c.ready, c.ready > 0)
	case c.exited == 0:
		return res, fmt.Errorf("guest stopped without reporting an exit code (qemu: %v; stderr: %s)", werr, bytes.TrimSpace(stderr.Bytes()))
	case werr != nil:
		// The tests reported; qemu's own exit status after power-off is
		// not interesting unless it failed to start the guest.
		sink(fmt.Sprintf("vm: qemu exited with %v after the guest reported (stderr: %s)", werr, bytes.TrimSpace(stderr.Bytes())))
	}
	return res, nil
}
