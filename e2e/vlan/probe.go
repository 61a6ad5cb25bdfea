package vlan

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/mdlayher/ndp"
)

// ProbeNeighbor makes the host ask for ip on its LAN every 10 ms (ARP
// requests with arping for IPv4, neighbour solicitations for IPv6), so a
// capture shows who answers for it at any moment. The answers are not read
// here. It runs until ctx ends or stop is called.
func (h *Host) ProbeNeighbor(ctx context.Context, ip netip.Addr) (stop func(), err error) {
	if ip.Is4() {
		p, err := h.Start(ctx, os.DevNull, "arping", "-q", "-i", h.Iface, "-W", "0.01", ip.String())
		if err != nil {
			return nil, err
		}
		return func() { _ = p.Kill() }, nil
	}
	// Solicitations from this process, not a program started per request:
	// the machine's load is what the tests measure against.
	snm, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, err
	}
	var c *ndp.Conn
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		// The socket names its interface as the zone of every address it
		// writes to, and the zone is looked up where the write runs: by
		// name that would be this process's namespace, by number it is
		// the host's interface.
		byIndex := *ifi
		byIndex.Name = strconv.Itoa(ifi.Index)
		c, _, err = ndp.Listen(&byIndex, ndp.LinkLocal)
		return err
	}); err != nil {
		return nil, fmt.Errorf("host %s: neighbour solicitations for %s: %w", h.Name, ip, err)
	}
	ns := &ndp.NeighborSolicitation{TargetAddress: ip, Options: []ndp.Option{
		&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: h.MAC},
	}}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = c.WriteTo(ns, nil, snm) // a lost solicitation is a gap in the capture, no more
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}
