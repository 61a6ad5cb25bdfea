package vlan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Filter selects frames; nil selects all.
type Filter func(Frame) bool

// NeighborDiscovery selects ARP and IPv6 neighbour solicitations and
// advertisements.
func NeighborDiscovery(f Frame) bool { return f.ARP != nil || f.IsNS() || f.IsNA() }

// maxCaptureFrames bounds a capture's memory; later frames are counted as
// dropped. Filter in the capture to keep what matters.
const maxCaptureFrames = 100_000

// captureBuffer is the socket receive buffer, large enough to ride out
// bursts while the reader is descheduled.
const captureBuffer = 4 << 20

// Capture records frames entering the LAN bridge.
type Capture struct {
	filter   Filter
	file     *os.File
	done     chan struct{} // closed when the reader has stopped
	stopping chan struct{} // closed by interrupt
	stopOnce sync.Once

	mu      sync.Mutex
	frames  []Frame
	changed chan struct{} // closed (and replaced) on every new frame
	err     error
	dropped int
}

// Capture starts recording every frame that enters the LAN bridge from a
// host, once per frame, tagged with the host it came from (Frame.Port) and
// the kernel's receive time. It runs until ctx is done, Stop is called or
// the lab closes; frames queued by then are still read. Only frames for which filter returns true are kept.
//
// It uses an AF_PACKET socket inside the LAN namespace that sees all
// interfaces there; keeping only frames received on bridge ports (not those
// sent out of them, nor copies on the bridge device) counts each frame once.
func (l *Lab) Capture(ctx context.Context, filter Filter) (*Capture, error) {
	return l.capture(ctx, filter, nil)
}

// CaptureNeighborDiscovery is Capture(ctx, NeighborDiscovery) with the
// kernel dropping every other frame before the capture reads it: under
// heavy traffic the capture then costs little and drops nothing.
func (l *Lab) CaptureNeighborDiscovery(ctx context.Context) (*Capture, error) {
	return l.capture(ctx, NeighborDiscovery, neighborDiscoveryBPF)
}

func (l *Lab) capture(ctx context.Context, filter Filter, kernel []bpf.Instruction) (*Capture, error) {
	ports := map[int]string{}
	for _, h := range l.Hosts() {
		if h.peerNS != l.LAN.ns {
			continue
		}
		link, err := l.LAN.ns.nl.LinkByName(h.peerName)
		if err != nil {
			return nil, fmt.Errorf("vlan: capture: port of %s: %w", h.Name, err)
		}
		ports[link.Attrs().Index] = h.Name
	}

	var fd int
	err := l.LAN.ns.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vlan: capture: packet socket in %s: %w", l.LAN.NetNS, err)
	}
	for _, o := range []struct{ name, v int }{
		{unix.SO_TIMESTAMPNS, 1},
		{unix.SO_RCVBUFFORCE, captureBuffer},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o.name, o.v); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("vlan: capture: setsockopt %d: %w", o.name, err)
		}
	}
	if kernel != nil {
		if err := attachBPF(fd, kernel); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("vlan: capture: %w", err)
		}
	}
	// A non-blocking fd makes the File pollable, so Close wakes the reader.
	c := &Capture{
		filter:   filter,
		file:     os.NewFile(uintptr(fd), "lan-capture"),
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
		changed:  make(chan struct{}),
	}
	err = l.goOwned(func(labCtx context.Context) {
		defer close(c.done)
		stop1 := context.AfterFunc(ctx, c.interrupt)
		defer stop1()
		stop2 := context.AfterFunc(labCtx, c.interrupt)
		defer stop2()
		c.read(ports)
	})
	if err != nil {
		c.file.Close()
		return nil, fmt.Errorf("vlan: capture: %w", err)
	}
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// interrupt wakes the reader, which then reads what is already queued
// and stops.
func (c *Capture) interrupt() {
	c.stopOnce.Do(func() {
		close(c.stopping)
		_ = c.file.SetReadDeadline(time.Now())
	})
}

// read runs until interrupted, then drains the socket and closes it.
func (c *Capture) read(ports map[int]string) {
	defer c.file.Close()
	rc, err := c.file.SyscallConn()
	if err != nil {
		c.finish(err)
		return
	}
	buf := make([]byte, 1<<16)
	oob := make([]byte, 128)
	draining := false
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_TRUNC)
			// While draining, one attempt only: EAGAIN means empty.
			return draining || !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil && !draining {
			select {
			case <-c.stopping:
				// Frames that arrived before the stop are queued in the
				// socket: read them without waiting, then end.
				draining = true
				_ = c.file.SetReadDeadline(time.Time{})
				continue
			default:
				c.finish(fmt.Errorf("vlan: capture: read: %w", err))
				return
			}
		}
		if err != nil || (draining && errors.Is(rerr, unix.EAGAIN)) {
			c.finish(nil)
			return
		}
		if rerr != nil {
			if errors.Is(rerr, unix.EINTR) {
				continue
			}
			c.finish(fmt.Errorf("vlan: capture: recvmsg: %w", rerr))
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		port, ok := ports[ll.Ifindex]
		if !ok {
			continue // the bridge device itself, or something else
		}
		f := parseFrame(buf[:min(n, len(buf))])
		f.Len = n
		f.Port = port
		f.Time = timestamp(oob[:oobn])
		if c.filter != nil && !c.filter(f) {
			continue
		}
		c.add(f)
	}
}

// timestamp reads SCM_TIMESTAMPNS, falling back to now.
func timestamp(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
				return time.Unix(sec, nsec)
			}
		}
	}
	return time.Now()
}

func (c *Capture) add(f Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.frames) >= maxCaptureFrames {
		c.dropped++
		return
	}
	c.frames = append(c.frames, f)
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Capture) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	close(c.changed)
	c.changed = make(chan struct{})
}

// Frames returns the frames kept so far, oldest first.
func (c *Capture) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// Stop ends the capture and returns all frames kept, including every frame
// that had entered the bridge before the call.
func (c *Capture) Stop() []Frame {
	c.interrupt()
	<-c.done
	return c.Frames()
}

// Err is the error that ended the capture early, if any.
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Dropped is how many frames matched but were not kept because the capture
// was full.
func (c *Capture) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// WaitFor returns the first kept frame (already captured or still to come)
// for which match returns true. It fails when ctx is done or the capture
// ends first.
func (c *Capture) WaitFor(ctx context.Context, match Filter) (Frame, error) {
	next := 0
	for {
		c.mu.Lock()
		for ; next < len(c.frames); next++ {
			if match == nil || match(c.frames[next]) {
				f := c.frames[next]
				c.mu.Unlock()
				return f, nil
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("vlan: capture: no matching frame among %d: %w", next, ctx.Err())
		case <-c.done:
			// Look once more at frames added before the end.
			c.mu.Lock()
			n := len(c.frames)
			err := c.err
			c.mu.Unlock()
			if next == n {
				return Frame{}, fmt.Errorf("vlan: capture ended without a matching frame (err %v)", err)
			}
		case <-changed:
		}
	}
}
