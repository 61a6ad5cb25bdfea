package ipvs

import (
	"net"
	"testing"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestUDPFlowsFilter(t *testing.T) {
	flow := func(proto uint8, dst string, dport uint16, rsrc string, rsport uint16) *vnl.ConntrackFlow {
		f := &vnl.ConntrackFlow{}
		f.Forward.Protocol = proto
		f.Forward.DstIP = net.ParseIP(dst)
		f.Forward.DstPort = dport
		f.Reverse.SrcIP = net.ParseIP(rsrc)
		f.Reverse.SrcPort = rsport
		return f
	}
	all := udpFlows{key: udp53}
	one := udpFlows{key: udp53, backend: podA}
	tests := []struct {
		name      string
		flow      *vnl.ConntrackFlow
		all, only bool
	}{
		{"to the endpoint", flow(unix.IPPROTO_UDP, "203.0.113.10", 53, "198.51.100.11", 8080), true, true},
		{"to another endpoint", flow(unix.IPPROTO_UDP, "203.0.113.10", 53, "198.51.100.12", 8080), true, false},
		{"same endpoint address, other port", flow(unix.IPPROTO_UDP, "203.0.113.10", 53, "198.51.100.11", 9090), true, false},
		{"other service port", flow(unix.IPPROTO_UDP, "203.0.113.10", 54, "198.51.100.11", 8080), false, false},
		{"other VIP", flow(unix.IPPROTO_UDP, "203.0.113.11", 53, "198.51.100.11", 8080), false, false},
		{"TCP", flow(unix.IPPROTO_TCP, "203.0.113.10", 53, "198.51.100.11", 8080), false, false},
	}
	for _, tc := range tests {
		if got := all.MatchConntrackFlow(tc.flow); got != tc.all {
			t.Errorf("%s: whole-service filter = %v, want %v", tc.name, got, tc.all)
		}
		if got := one.MatchConntrackFlow(tc.flow); got != tc.only {
			t.Errorf("%s: endpoint filter = %v, want %v", tc.name, got, tc.only)
		}
	}
}
