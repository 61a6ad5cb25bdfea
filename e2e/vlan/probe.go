package vlan

import (
	"context"
	"fmt"
	"net/netip"
)

// ProbeNeighbor makes the host ask for ip on its LAN every 10 ms (ARP for
// IPv4 with arping, neighbour solicitations for IPv6 with ndisc6), so a
// capture shows who answers for it at any moment. The answers are not
// read here; the probe runs until ctx ends or the process is killed.
func (h *Host) ProbeNeighbor(ctx context.Context, logPath string, ip netip.Addr) (*Process, error) {
	if ip.Is4() {
		return h.Start(ctx, logPath, "arping", "-q", "-i", h.Iface, "-W", "0.01", ip.String())
	}
	// ndisc6 sends one solicitation and waits 10 ms for the answer.
	loop := fmt.Sprintf("while :; do ndisc6 -q -n -r 1 -w 10 %s %s; done", ip, h.Iface)
	return h.Start(ctx, logPath, "sh", "-c", loop)
}
