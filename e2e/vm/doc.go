// Package vm runs Go tests inside a real Linux kernel under qemu.
//
// The host's kernel lacks features IronLB needs to test for real (IPVS,
// dummy interfaces); Debian's cloud kernel has them as modules. RunTests
// builds a package's tests as a static binary (CGO_ENABLED=0, build tag
// vmguest), packs it with busybox, the kernel modules the tests need and a
// tiny Go init (package vminit) into an uncompressed newc initramfs, boots it
// with qemu (TCG: KVM guests hang on the CI machines), streams the serial
// console into the host test's log and fails the host test unless the guest
// reports that its tests passed.
//
// The kernel package is downloaded once with apt-get and unpacked under
// <repo>/.cache/vm/<kernel version>/ (vmlinuz, the modules tree and its
// modules.dep); the initramfs is rebuilt on every run, which takes a fraction
// of a second. The guest has no network device: tests build what they need
// (namespaces, veth pairs, dummy interfaces) inside it.
//
// Usage, from a host-side test file (build tag !vmguest):
//
//	func TestVM(t *testing.T) {
//		vm.RunTests(t, vm.Options{Package: "github.com/ironlb/ironlb/datapath/ipvs", Run: "^TestGuest", Timeout: 5 * time.Minute})
//	}
//
// Guest-side tests live in files with the vmguest build tag, so a plain
// `go test` on the host does not compile them and runs only the host wrapper
// that boots the VM. Inside the guest, package guest tells them they are in
// the VM; run anywhere else they fail (guest.Require), never skip.
package vm
