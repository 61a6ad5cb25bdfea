// Package guest is shared by the VM's init (vminit) and the tests that run
// inside the VM. It imports nothing heavy so the init binary stays small.
package guest

import "os"

const (
	// EnvInVM is set to "1" by vminit for the test binary.
	EnvInVM = "IRONLB_IN_VM"
	// ExitSentinel starts the line vminit prints after the test binary
	// exits, followed by the exit code: "IRONLB-VM-EXIT=0".
	ExitSentinel = "IRONLB-VM-EXIT="
	// ReadySentinel is printed by vminit once modules are loaded and just
	// before the test binary starts; the host measures boot time up to it.
	ReadySentinel = "IRONLB-VM-READY"
	// ConfigDir holds vminit's inputs inside the initramfs.
	ConfigDir = "/etc/ironlb-vm"
	// ModulesFile lists the modules to load, one path a line, relative to
	// /lib/modules/<version>, dependencies first.
	ModulesFile = ConfigDir + "/modules"
	// ArgsFile holds the test binary's arguments, one a line.
	ArgsFile = ConfigDir + "/args"
	// TestBinary is where the test binary is placed.
	TestBinary = "/ironlb.test"
)

// InVM reports whether this process runs inside the test VM.
func InVM() bool { return os.Getenv(EnvInVM) == "1" }

// TB is the part of testing.TB that Require needs (this package does not
// import testing, to keep it out of the init binary).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Require fails the test unless it runs inside the VM. Guest tests need a
// kernel with IPVS and the like; run on the host they must fail loudly.
func Require(t TB) {
	t.Helper()
	if !InVM() {
		t.Fatalf("this test must run inside the IronLB test VM (%s=1 is not set): it is built with -tags vmguest only by vm.RunTests; run the package's host tests instead", EnvInVM)
	}
}
