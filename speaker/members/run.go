package members

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Run opens the socket and runs the protocol until ctx ends; then it closes
// the socket and returns nil, without telling anyone (call Leave first for a
// clean stop). It owns every goroutine it starts. A Members runs once.
func (m *Members) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ran {
		m.mu.Unlock()
		return errors.New("members: Run: already called (a Members runs once)")
	}
	m.ran = true
	m.mu.Unlock()
	defer close(m.done)

	pc, err := m.opts.ListenPacket(ctx, m.opts.network(), m.opts.Bind.String())
	if err != nil {
		return fmt.Errorf("members: listen on %s: %w", m.opts.Bind, err)
	}
	conn := newPacketConn(pc)
	if err := conn.tune(m.opts.network()); err != nil {
		m.log.Info("members: socket options not applied", "error", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	m.mu.Lock()
	m.conn = conn
	m.running = true
	m.apply(m.sm.start(time.Now()))
	m.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.readLoop(ctx, conn)
	}()
	m.tickLoop(ctx, conn)

	m.mu.Lock()
	m.running = false
	m.conn = nil
	m.mu.Unlock()
	err = pc.Close() // unblocks readLoop
	wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("members: close socket: %w", err)
	}
	return nil
}

// tickLoop calls the machine's tick at its deadlines.
func (m *Members) tickLoop(ctx context.Context, conn *packetConn) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-m.kick:
		}
		backlog := conn.pending() > 0
		m.mu.Lock()
		now := time.Now()
		m.apply(m.sm.tick(now, backlog))
		next := m.sm.deadline(now)
		m.mu.Unlock()
		timer.Reset(time.Until(next))
	}
}

// readLoop receives, authenticates and hands packets to the machine.
func (m *Members) readLoop(ctx context.Context, conn *packetConn) {
	rx := newCodec(m.keys.Load())
	buf := make([]byte, maxRead)
	for {
		n, src, err := conn.readFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("members: receive", "error", err)
			select { // do not spin on a persistent error
			case <-ctx.Done():
				return
			case <-time.After(time.Millisecond):
			}
			continue
		}
		now := time.Now()
		rx.use(m.keys.Load())
		msg, err := rx.decode(buf[:n], m.opts.Node)
		if err != nil {
			reason := "malformed"
			if errors.Is(err, errAuth) {
				reason = "auth"
			}
			m.met.rejected.WithLabelValues(reason).Inc()
			m.log.Debug("members: packet rejected", "from", src, "error", err)
			continue
		}
		m.mu.Lock()
		e := m.sm.receive(now, src, msg)
		if e.drop == "" {
			m.met.received.WithLabelValues(msg.typ.String()).Inc()
		}
		m.apply(e)
		m.mu.Unlock()
		if len(e.transitions) > 0 || e.joined || e.refuted || e.leaveDone {
			m.wake() // new successors are due a ping now
		}
	}
}

// packetConn adapts a net.PacketConn to netip addresses, without
// allocating per packet when it is a *net.UDPConn.
type packetConn struct {
	pc  net.PacketConn
	udp *net.UDPConn
}

func newPacketConn(pc net.PacketConn) *packetConn {
	udp, _ := pc.(*net.UDPConn)
	return &packetConn{pc: pc, udp: udp}
}

func (c packetConn) readFrom(b []byte) (int, netip.AddrPort, error) {
	if c.udp != nil {
		n, ap, err := c.udp.ReadFromUDPAddrPort(b)
		return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), err
	}
	n, addr, err := c.pc.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, netip.AddrPort{}, fmt.Errorf("not a UDP address: %v", addr)
	}
	ap := ua.AddrPort()
	return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func (c packetConn) writeTo(b []byte, to netip.AddrPort) error {
	if c.udp != nil {
		_, err := c.udp.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := c.pc.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}
