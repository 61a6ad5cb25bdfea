package nftexpr

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// BigBuffers sets a netlink socket's send and receive buffers to size bytes,
// so that one nf_tables transaction carrying thousands of services goes out
// in a single sendmsg and the kernel's acknowledgement of every message fits.
// Forcing the sizes needs CAP_NET_ADMIN, which programming nftables needs
// anyway.
func BigBuffers(c *netlink.Conn, size int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, size); e != nil {
				serr = fmt.Errorf("setsockopt %d: %w", opt, e)
			}
		}
	})
	return errors.Join(err, serr)
}
