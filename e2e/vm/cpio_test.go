package vm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPIOWriterRoundTrip unpacks the archive with the real cpio tool, which
// is what proves the format (the kernel's unpacker reads the same newc).
func TestCPIOWriterRoundTrip(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Fatalf("cpio not found (install Debian's cpio, see hack/install-deps.sh): %v", err)
	}
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	w.File("/etc/ironlb-vm/args", 0o644, []byte("-test.v\n-test.run=X\n"))
	w.File("odd", 0o755, []byte("abc")) // length not a multiple of 4
	w.Symlink("/bin/sh", "busybox")
	w.Dir("/proc")
	w.Dir("/etc") // again: no duplicate entry
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not 4-byte aligned", buf.Len())
	}
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-id", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v: %s", err, out)
	}
	tests := []struct {
		name, want string
		perm       os.FileMode
	}{
		{"etc/ironlb-vm/args", "-test.v\n-test.run=X\n", 0o644},
		{"odd", "abc", 0o755},
	}
	for _, tc := range tests {
		got, err := os.ReadFile(filepath.Join(dir, tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, got, tc.want)
		}
		fi, _ := os.Stat(filepath.Join(dir, tc.name))
		if fi.Mode().Perm() != tc.perm {
			t.Errorf("%s mode %v, want %v", tc.name, fi.Mode().Perm(), tc.perm)
		}
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q (%v), want busybox", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "proc")); err != nil || !fi.IsDir() {
		t.Errorf("proc is not a directory: %v", err)
	}
	// Directories named twice (with and without slashes) appear once.
	var again bytes.Buffer
	w2 := newCPIOWriter(&again)
	w2.Dir("/etc")
	w2.Dir("etc/")
	w2.File("/etc/x", 0o600, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	list := exec.Command(cpio, "-t", "--quiet")
	list.Stdin = &again
	out, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "etc etc/x" {
		t.Errorf("listing %q, want [etc etc/x]", got)
	}
}
