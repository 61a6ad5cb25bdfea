package ipvs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// inNetNS runs fn with the calling thread in ns (ns < 0: the caller's own
// namespace, fn runs directly). Needed for what is namespaced by the
// calling thread rather than by a socket: /proc/sys/net and
// /proc/thread-self/net. The goroutine locks its thread and exits without
// unlocking it, so the runtime discards the thread and no other goroutine
// ever runs in ns by accident.
func inNetNS(ns netns.NsHandle, fn func() error) error {
	if ns < 0 {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// sysctl paths are relative to /proc/sys, with "/" separators
// ("net/ipv4/vs/conntrack").
func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", path))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(path, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", path), []byte(value+"\n"), 0o644)
}
