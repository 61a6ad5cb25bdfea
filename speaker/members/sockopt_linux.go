package members

import (
	"errors"
	"syscall"
	"unsafe"
)

// dscpCS6 is DSCP class selector 6 ("network control") in the TOS byte:
// switches that honour QoS queue liveness packets ahead of bulk traffic, so
// a congested uplink does not make a live node look dead.
const dscpCS6 = 0xc0

// tune enlarges the receive buffer (a burst of state pushes must not push
// out pings) and marks our packets CS6. Both are best effort.
func (c packetConn) tune(network string) error {
	if c.udp == nil {
		return nil
	}
	errBuf := c.udp.SetReadBuffer(1 << 20)
	raw, err := c.udp.SyscallConn()
	if err != nil {
		return errors.Join(errBuf, err)
	}
	var errOpt error
	err = raw.Control(func(fd uintptr) {
		if network == "udp4" {
			errOpt = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TOS, dscpCS6)
		} else {
			errOpt = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_TCLASS, dscpCS6)
		}
	})
	return errors.Join(errBuf, err, errOpt)
}

// pending is how many bytes wait unread in the socket (0 when unknown).
func (c packetConn) pending() int {
	if c.udp == nil {
		return 0
	}
	raw, err := c.udp.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = raw.Control(func(fd uintptr) {
		var v int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); errno == 0 {
			n = int(v)
		}
	})
	return n
}
