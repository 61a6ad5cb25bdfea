package nftables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Why a batch sender of our own: google/nftables asks the kernel to
// acknowledge every message of a transaction and to echo every rule back,
// then reads those answers one recvmsg at a time. For a full sync of 10,000
// services that is over 100,000 answers and most of the sync's time. So
// google/nftables only encodes: its Conn is dialed to capture (an nltest
// function that records the batch and pretends every message was
// acknowledged), and send transmits the recorded batch with acknowledgement
// requested for the last message only. Errors still come back: the kernel
// reports every failing message, and a failing batch is aborted as a whole.

// capture records the batches a google/nftables Conn flushes.
type capture struct {
	msgs []netlink.Message
}

// dial is the nltest.Func: a batch to record, or (req == nil) a Receive
// that expects an acknowledgement.
func (c *capture) dial(req []netlink.Message) ([]netlink.Message, error) {
	if req == nil {
		return []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}, nil
	}
	c.msgs = append(c.msgs, req...)
	return nil, nil
}

// drainWait is how long send waits for more error reports after the first.
const drainWait = 300 * time.Millisecond

// commit flushes the encoder Conn into the capture and sends the batch.
func (b *Backend) commit() error {
	b.capture.msgs = nil
	if err := b.enc.Flush(); err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	msgs := b.capture.msgs
	b.capture.msgs = nil
	if len(msgs) <= 2 { // batch begin and end only
		return nil
	}
	before, gerr := b.generation()
	start := time.Now()
	err := sendBatch(b.sock, msgs)
	b.lastCommit = time.Since(start)
	b.carryVerified(before, gerr == nil && err == nil)
	return err
}

// carryVerified keeps the drift check's verified generation (see
// observeChains) across our own transaction, so that it costs the next
// check no chain dump: if the ruleset was verified at generation before
// and is now at before+1, the one commit in between was ours, which left
// every chain as b.chains will say. Anything else (a foreign commit just
// before or after ours, a failed batch) drops the verification.
func (b *Backend) carryVerified(before uint32, committed bool) {
	if !committed || !b.verifiedOK || before != b.verified {
		b.verifiedOK = false
		return
	}
	after, err := b.generation()
	b.verified, b.verifiedOK = after, err == nil && after == before+1
}

func sendBatch(sock *netlink.Conn, msgs []netlink.Message) error {
	last := len(msgs) - 2 // the message before NFNL_MSG_BATCH_END
	for i := range msgs {
		msgs[i].Header.Flags &^= netlink.Acknowledge | netlink.HeaderFlags(unix.NLM_F_ECHO)
	}
	msgs[last].Header.Flags |= netlink.Acknowledge
	if err := sendRaw(sock, marshalBatch(msgs)); err != nil {
		return fmt.Errorf("send batch of %d messages: %w", len(msgs), err)
	}
	want := msgs[last].Header.Sequence
	var first error
	defer func() { _ = sock.SetReadDeadline(time.Time{}) }()
	for {
		replies, err := sock.Receive()
		if err != nil {
			var ne net.Error
			if first != nil && errors.As(err, &ne) && ne.Timeout() {
				return first
			}
			if first == nil {
				// An error report (its sequence number is not exposed);
				// the batch is aborted. Drain what else comes.
				first = fmt.Errorf("batch of %d messages: %w", len(msgs), err)
				if derr := sock.SetReadDeadline(time.Now().Add(drainWait)); derr != nil {
					return errors.Join(first, derr)
				}
			}
			continue
		}
		for _, m := range replies {
			if m.Header.Type == netlink.Error && m.Header.Sequence == want {
				return first
			}
		}
	}
}

// nlmsgHeaderLen is the size of a netlink message header.
const nlmsgHeaderLen = 16

func nlmsgAlign(n int) int { return (n + 3) &^ 3 }

// marshalBatch lays the messages out back to back in one buffer, as the
// kernel reads a batch, with the sequence numbers and port id the encoder
// gave them. The buffer is sized once: netlink.Conn.SendMessages appends
// message by message, regrowing a buffer of tens of megabytes over and over
// in a full sync (a tenth of its CPU time).
func marshalBatch(msgs []netlink.Message) []byte {
	n := 0
	for i := range msgs {
		n += nlmsgAlign(nlmsgHeaderLen + len(msgs[i].Data))
	}
	buf := make([]byte, n)
	off := 0
	for i := range msgs {
		m := &msgs[i]
		l := nlmsgAlign(nlmsgHeaderLen + len(m.Data))
		binary.NativeEndian.PutUint32(buf[off:], uint32(l))
		binary.NativeEndian.PutUint16(buf[off+4:], uint16(m.Header.Type))
		binary.NativeEndian.PutUint16(buf[off+6:], uint16(m.Header.Flags))
		binary.NativeEndian.PutUint32(buf[off+8:], m.Header.Sequence)
		binary.NativeEndian.PutUint32(buf[off+12:], m.Header.PID)
		copy(buf[off+nlmsgHeaderLen:], m.Data)
		off += l
	}
	return buf
}

// sendRaw sends a marshalled batch to the kernel in one sendmsg.
func sendRaw(sock *netlink.Conn, buf []byte) error {
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), buf, nil, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	return errors.Join(err, serr)
}
