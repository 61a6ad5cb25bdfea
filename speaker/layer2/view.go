package layer2

import (
	"bytes"
	"net"
	"net/netip"
)

// ipPhase is what the packet handlers need to know about a claimed IP on
// an interface.
type ipPhase uint8

const (
	phaseProbing   ipPhase = iota + 1 // watch for conflicts, do not answer
	phaseAnnounced                    // answer, watch for conflicts
	phaseConflict                     // do not answer
)

// ifView is the immutable snapshot of one interface that its readers use
// to answer requests. The loop replaces it whenever something changes.
type ifView struct {
	mac net.HardwareAddr
	ips map[netip.Addr]ipPhase
}

func macEqual(a, b net.HardwareAddr) bool { return len(a) > 0 && bytes.Equal(a, b) }

// friendlySet decides whether a MAC belongs to this node or to another
// speaker. own is this node's interface MACs (as net.HardwareAddr.String);
// more returns the other speakers' MACs and is called only when own does
// not match.
func friendlySet(own map[string]bool, more func() map[string]bool) func(net.HardwareAddr) bool {
	return func(mac net.HardwareAddr) bool {
		if len(mac) == 0 {
			return false
		}
		s := mac.String()
		if own[s] {
			return true
		}
		if more == nil {
			return false
		}
		m := more()
		if m[s] {
			return true
		}
		// Keys in another spelling (upper case, dashes): compare parsed.
		for k, ok := range m {
			if !ok {
				continue
			}
			if hw, err := net.ParseMAC(k); err == nil && bytes.Equal(hw, mac) {
				return true
			}
		}
		return false
	}
}
