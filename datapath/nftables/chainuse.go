package nftables

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Reads that google/nftables does not offer: the ruleset generation and
// every chain's use count. A chain's use count is its rules plus the
// references to it (jumps, gotos, verdict map elements), so `nft flush
// chain`, `nft delete rule` and `nft add rule` on a chain all change it;
// one chain dump shows every chain's count, far cheaper than dumping their
// rules. Both are decoded by hand, reading only the attributes needed.

// nftRequest is a request to the nf_tables subsystem about inet objects.
func nftRequest(msgType uint16, flags netlink.HeaderFlags) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | int(msgType)), Flags: netlink.Request | flags},
		// nfgenmsg: family, version, resource id.
		Data: []byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0},
	}
}

// nfgenHeaderLen is the nfgenmsg header in front of the attributes.
const nfgenHeaderLen = 4

// generation returns the ruleset's generation: the kernel increments it on
// every committed transaction, whoever sends it, in this network namespace.
func (b *Backend) generation() (uint32, error) {
	var gen uint32
	found := false
	err := exchange(b.sock, nftRequest(unix.NFT_MSG_GETGEN, netlink.Acknowledge), func(data []byte) {
		eachAttr(data, func(typ uint16, v []byte) {
			if typ == unix.NFTA_GEN_ID && len(v) == 4 {
				gen, found = binary.BigEndian.Uint32(v), true
			}
		})
	})
	if err == nil && !found {
		err = errors.New("no NFTA_GEN_ID in the answer")
	}
	if err != nil {
		return 0, fmt.Errorf("nftables backend: read the ruleset generation: %w", err)
	}
	return gen, nil
}

// chainUses dumps the inet chains and returns the use count of those in
// the tables keep accepts.
func (b *Backend) chainUses(keep func(table string) bool) (map[chainRef]uint32, error) {
	out := map[chainRef]uint32{}
	err := exchange(b.sock, nftRequest(unix.NFT_MSG_GETCHAIN, netlink.Dump), func(data []byte) {
		var table, name []byte
		var use uint32
		eachAttr(data, func(typ uint16, v []byte) {
			switch typ {
			case unix.NFTA_CHAIN_TABLE:
				table = cString(v)
			case unix.NFTA_CHAIN_NAME:
				name = cString(v)
			case unix.NFTA_CHAIN_USE:
				if len(v) == 4 {
					use = binary.BigEndian.Uint32(v)
				}
			}
		})
		// string(table) in a map lookup does not allocate.
		if table == nil || name == nil || !keep(string(table)) {
			return
		}
		out[chainRef{Table: string(table), Chain: string(name)}] = use
	})
	if err != nil {
		return nil, fmt.Errorf("nftables backend: list chains: %w", err)
	}
	return out, nil
}

// dumpBuffer is the receive buffer of a dump. The kernel sizes the parts
// of a dump after the largest buffer the reader offered (up to 32 KiB) and
// walks every chain from the first again for each part, so small parts
// make a dump of 10,000 chains cost it tens of milliseconds; 32 KiB parts
// cost a few.
const dumpBuffer = 64 << 10

// exchange sends a request (a dump, or one asking for an
// acknowledgement) and calls fn with each answer's payload until the dump
// is done or the acknowledgement came, reading with a buffer of dumpBuffer
// bytes. Answers to other requests (late error reports of a batch) are
// skipped.
func exchange(sock *netlink.Conn, req netlink.Message, fn func(data []byte)) error {
	sent, err := sock.Send(req)
	if err != nil {
		return err
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, dumpBuffer)
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, _, _, rerr = unix.Recvmsg(int(fd), buf, nil, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		}); err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		for msgs := buf[:n]; len(msgs) >= nlmsgHeaderLen; {
			l := int(binary.NativeEndian.Uint32(msgs))
			if l < nlmsgHeaderLen || l > len(msgs) {
				return fmt.Errorf("truncated netlink message")
			}
			typ := netlink.HeaderType(binary.NativeEndian.Uint16(msgs[4:]))
			seq := binary.NativeEndian.Uint32(msgs[8:])
			data := msgs[nlmsgHeaderLen:l]
			msgs = msgs[min(nlmsgAlign(l), len(msgs)):]
			switch {
			case seq != sent.Header.Sequence:
				continue // a late answer to something else
			case typ == netlink.Done:
				return nil
			case typ == netlink.Error:
				if len(data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(data)); code != 0 {
						return unix.Errno(-code)
					}
				}
				return nil
			}
			fn(data)
		}
	}
}

// eachAttr calls fn for every top-level attribute after the nfgenmsg
// header, with the type's flag bits cleared. A truncated attribute ends
// the walk.
func eachAttr(data []byte, fn func(typ uint16, v []byte)) {
	if len(data) < nfgenHeaderLen {
		return
	}
	data = data[nfgenHeaderLen:]
	for len(data) >= unix.NLA_HDRLEN {
		l := int(binary.NativeEndian.Uint16(data))
		if l < unix.NLA_HDRLEN || l > len(data) {
			return
		}
		fn(binary.NativeEndian.Uint16(data[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), data[unix.NLA_HDRLEN:l])
		data = data[min(nlmsgAlign(l), len(data)):]
	}
}

// cString drops a NUL terminator.
func cString(v []byte) []byte {
	if n := len(v); n > 0 && v[n-1] == 0 {
		return v[:n-1]
	}
	return v
}
