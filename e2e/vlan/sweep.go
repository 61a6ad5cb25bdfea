package vlan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"
)

// marker starts every namespace name this package creates:
// "ilb-<pid>-<lab id>-<host>".
const marker = "ilb"

var ownedName = regexp.MustCompile(`^` + marker + `-([0-9]+)-`)

// Sweep deletes namespaces that this package created in processes that no
// longer exist (a test binary that crashed or was killed before its
// cleanup ran), after killing whatever still runs inside them. Namespaces of
// live processes, including other test binaries running in parallel, are
// left alone. Start calls it.
func Sweep() error {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vlan: sweep: %w", err)
	}
	var errs []error
	for _, e := range entries {
		m := ownedName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || PIDAlive(pid) {
			continue
		}
		if err := killProcessesIn(filepath.Join(netnsDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
		if err := deleteNamespace(e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vlan: sweep: %w", err)
	}
	return nil
}

// PIDAlive reports whether a process with this PID exists and is not a
// zombie (a dead process whose parent has not collected it yet).
func PIDAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// "pid (comm) S ...": the state follows the last ')', as comm may
	// contain anything.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		switch stat[i+2] {
		case 'Z', 'X':
			return false
		}
	}
	return true
}
