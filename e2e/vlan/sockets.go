package vlan

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// DialContext opens a connection from inside the host's namespace. The
// address must be an IP literal: name resolution could run on other
// threads, outside the namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := needIPLiteral(network, addr); err != nil {
		return nil, fmt.Errorf("host %s: dial %s %s: %w", h.Name, network, addr, err)
	}
	var c net.Conn
	err := h.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("host %s: dial %s %s: %w", h.Name, network, addr, err)
	}
	return c, nil
}

// Listen opens a stream listener inside the host's namespace.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	if err := needIPLiteral(network, addr); err != nil {
		return nil, fmt.Errorf("host %s: listen %s %s: %w", h.Name, network, addr, err)
	}
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("host %s: listen %s %s: %w", h.Name, network, addr, err)
	}
	return ln, nil
}

// ListenPacket opens a packet socket (udp, ip4:icmp, ...) inside the host's
// namespace.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	if err := needIPLiteral(network, addr); err != nil {
		return nil, fmt.Errorf("host %s: listen %s %s: %w", h.Name, network, addr, err)
	}
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("host %s: listen %s %s: %w", h.Name, network, addr, err)
	}
	return pc, nil
}

// needIPLiteral rejects host names for IP networks; an empty host (all
// addresses) is fine.
func needIPLiteral(network, addr string) error {
	if strings.HasPrefix(network, "unix") {
		return nil
	}
	host := addr
	if !strings.HasPrefix(network, "ip:") && !strings.HasPrefix(network, "ip4:") && !strings.HasPrefix(network, "ip6:") {
		h, _, err := net.SplitHostPort(addr)
		if err != nil {
			return err
		}
		host = h
	}
	if host == "" {
		return nil
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // zone of a link-local address
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q is not an IP address (names are not resolved inside a lab namespace)", host)
	}
	return nil
}
