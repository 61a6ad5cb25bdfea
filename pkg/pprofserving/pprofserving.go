// Package pprofserving is the -pprof-bind-address flag of the controller
// and the speaker: Go's /debug/pprof/ profiles, served by
// controller-runtime's manager, off by default and only on a loopback
// address, for finding what a process's memory or CPU goes to (e.g. a heap
// that grows during a soak run).
package pprofserving

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
)

// Register adds -pprof-bind-address, off ("0") by default.
func Register(fs *flag.FlagSet, addr *string) {
	fs.StringVar(addr, "pprof-bind-address", "0", "loopback address (e.g. 127.0.0.1:6060) to serve Go's /debug/pprof/ profiles on; 0 disables them")
}

// Check accepts a value of -pprof-bind-address: "0" or empty (off) or a
// loopback address with a port. Profiles show memory contents and cost
// CPU to take, so they are never served beyond the host (or the node's
// network namespace) itself.
func Check(addr string) error {
	if addr == "" || addr == "0" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("flag -pprof-bind-address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("flag -pprof-bind-address %q: want a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), or 0 to disable", addr)
	}
	return nil
}
