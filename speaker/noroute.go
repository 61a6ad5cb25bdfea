package main

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/speaker/reach"
)

// routeLookup asks the node's routing table whether it has a route to an
// address, through one UDP socket per family that it connects again for
// each question. Connecting a UDP socket looks the route up as a TCP
// connect would, before any packet or netfilter hook, and sends nothing.
// One socket reused is one system call per check where a socket per check
// was three (socket, connect, close): the check runs up to 100 times a
// second on a node announcing thousands of addresses. A netlink route
// request instead allocated a 64 KiB buffer per answer. The sockets
// belong to the network namespace of the thread that first asks. Safe
// for concurrent use.
type routeLookup struct {
	mu     sync.Mutex
	fds    map[int]int // by family
	closed bool
}

// dial is the check's connection: none when the routing table has no
// route to the address itself (reach.ErrNoRoute: not checkable here),
// else one TCP connection through the datapath.
func (r *routeLookup) dial(ctx context.Context, addr netip.AddrPort) error {
	if r.noRoute(addr) {
		return reach.ErrNoRoute
	}
	return reach.DialTCP(ctx, addr)
}

// noRoute reports whether the routing table has no route to addr. Any
// other outcome, a failure to ask included, is left to the connection.
func (r *routeLookup) noRoute(addr netip.AddrPort) bool {
	ip := addr.Addr().Unmap()
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16()})
	if ip.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: ip.As4()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fd, ok := r.fds[family]
	if !ok {
		if r.closed {
			return false
		}
		var err error
		if fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return false
		}
		if r.fds == nil {
			r.fds = map[int]int{}
		}
		r.fds[family] = fd
	}
	return errors.Is(unix.Connect(fd, sa), unix.ENETUNREACH)
}

// run closes the sockets when ctx ends (a manager runnable).
func (r *routeLookup) run(ctx context.Context) error {
	<-ctx.Done()
	r.close()
	return nil
}

// close closes the sockets; later questions get no answer (false).
func (r *routeLookup) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fd := range r.fds {
		unix.Close(fd)
	}
	r.fds, r.closed = nil, true
}
