package ipvs

import (
	"errors"
	"fmt"
)

// sysctl is one setting the backend needs, with the reason.
type sysctl struct {
	path, value, why string
}

// requiredSysctls: see the package documentation.
var requiredSysctls = []sysctl{
	{"net/ipv4/vs/conntrack", "1", "keep IPVS connections in conntrack so that Cluster traffic can be masqueraded"},
	{"net/ipv4/vs/expire_nodest_conn", "1", "end connections of removed endpoints at their next packet"},
	{"net/ipv4/vs/expire_quiescent_template", "1", "let session affinity expire for draining (weight 0) endpoints"},
	{"net/ipv4/conf/all/arp_ignore", "1", "never answer ARP for VIPs on the dummy interface"},
	{"net/ipv4/conf/all/arp_announce", "2", "never use a VIP as the sender of the node's ARP requests"},
}

// forwardingSysctls are checked, not set.
var forwardingSysctls = []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"}

// ensureSysctls writes the settings that differ, in the backend's
// namespace, and returns how many it wrote and the forwarding settings
// that are off.
func ensureSysctls(settings []sysctl) (written int, forwardingOff []string, err error) {
	var errs []error
	for _, s := range settings {
		cur, err := readSysctl(s.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s (needed to %s): %w", s.path, s.why, err))
			continue
		}
		if cur == s.value {
			continue
		}
		if err := writeSysctl(s.path, s.value); err != nil {
			errs = append(errs, fmt.Errorf("set %s=%s (to %s): %w", s.path, s.value, s.why, err))
			continue
		}
		written++
	}
	for _, p := range forwardingSysctls {
		if v, err := readSysctl(p); err == nil && v == "0" {
			forwardingOff = append(forwardingOff, p)
		}
	}
	return written, forwardingOff, errors.Join(errs...)
}
