package ipvs

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// bigBuffers lets one nftables transaction carry the sets of thousands of
// services: the batch goes out in one sendmsg and the kernel acknowledges
// every message. Forcing the sizes needs CAP_NET_ADMIN, which programming
// nftables needs anyway.
func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, 64<<20); e != nil {
				serr = fmt.Errorf("setsockopt %d: %w", opt, e)
			}
		}
	})
	return errors.Join(err, serr)
}
