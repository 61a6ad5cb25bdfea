package vm

import (
	"fmt"
	"io"
	"time"
)

// Options say what to run in the VM.
type Options struct {
	// Package is the import path of the package whose tests run in the
	// guest (required). It is built with the vmguest build tag.
	Package string
	// Run is -test.run; "" runs ^TestGuest.
	Run string
	// Bench is -test.bench; "" runs no benchmark.
	Bench string
	// BenchTime is -test.benchtime when Bench is set; "" is Go's default.
	BenchTime string
	// Args are further arguments for the test binary (e.g. "-test.short").
	Args []string
	// Tags are build tags in addition to vmguest.
	Tags []string
	// Timeout bounds the qemu run, boot included (building is not
	// counted); 0 is 5 minutes. The guest's -test.timeout is set a little
	// shorter so that a hung test prints its goroutines before qemu is
	// killed.
	Timeout time.Duration
	// Modules are kernel modules to load in addition to DefaultModules.
	Modules []string
	// MemoryMB is the guest's memory; 0 is 1024.
	MemoryMB int
	// CPUs is the number of virtual CPUs; 0 is 2.
	CPUs int
	// Output, if set, also receives every console line as it arrives
	// (e.g. os.Stdout, so guest benchmark lines reach benchstat). The
	// host test's log always gets them.
	Output io.Writer
}

func (o Options) withDefaults() (Options, error) {
	if o.Package == "" {
		return o, fmt.Errorf("vm.Options.Package is empty: name the package whose tests run in the VM")
	}
	if o.Run == "" {
		o.Run = "^TestGuest"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.MemoryMB <= 0 {
		o.MemoryMB = 1024
	}
	if o.CPUs <= 0 {
		o.CPUs = 2
	}
	return o, nil
}

// testArgs are the test binary's arguments inside the guest.
func (o Options) testArgs() []string {
	guestTimeout := o.Timeout - 20*time.Second
	if guestTimeout < o.Timeout/2 {
		guestTimeout = o.Timeout / 2
	}
	args := []string{"-test.v=true", "-test.count=1", "-test.run=" + o.Run, "-test.timeout=" + guestTimeout.String()}
	if o.Bench != "" {
		args = append(args, "-test.bench="+o.Bench, "-test.benchmem=true")
		if o.BenchTime != "" {
			args = append(args, "-test.benchtime="+o.BenchTime)
		}
	}
	return append(args, o.Args...)
}

// Result is what a VM run produced.
type Result struct {
	// ExitCode is the test binary's exit status as the guest reported it.
	ExitCode int
	// Output is the serial console, one entry per line.
	Output []string
	// Build is the time spent compiling the test binary and the init.
	Build time.Duration
	// Boot is from starting qemu to the guest's init being ready to run the
	// tests (kernel boot, initramfs unpacking, module loading).
	Boot time.Duration
	// Tests is from then to the guest reporting the exit code.
	Tests time.Duration
	// Total is the whole qemu run, power-off included.
	Total time.Duration
}
