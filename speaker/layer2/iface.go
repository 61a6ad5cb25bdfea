package layer2

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// iface is one claimed interface. The loop owns every field except view,
// which the readers also use.
type iface struct {
	name    string
	index   int // 0: not open
	mac     net.HardwareAddr
	running bool // carrier up, at the last look
	arp     *sock
	nd      *sock
	groups  *mldGroups
	// err is why the interface is not open (or why a part of it failed),
	// kept so that each distinct problem is logged once.
	err string
	// groupErr is the last multicast membership error, logged once.
	groupErr string
	// sendErr is the last send error, logged once until a send succeeds.
	sendErr string

	mu   sync.RWMutex
	view *ifView // nil: answer nothing
}

func (h *iface) open() bool { return h.index != 0 }

// setView publishes a new view. Readers hold the read lock while they decide
// and send a reply, so once setView returns no reply based on the old view
// can still go out: a withdrawn IP is not answered any more.
func (h *iface) setView(v *ifView) {
	h.mu.Lock()
	h.view = v
	h.mu.Unlock()
}

// read runs as the goroutine that owns s: it reads s until the loop stops
// it, then closes it.
func (a *Announcer) read(h *iface, s *sock) {
	defer a.readers.Done()
	defer func() {
		if err := s.conn.Close(); err != nil {
			a.log.Debug("close socket", "interface", h.name, "proto", s.proto.String(), "error", err)
		}
		a.socketsOpen.Add(-1)
	}()
	buf := make([]byte, readBuffer)
	failures := 0
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if s.closing.Load() {
			return
		}
		if err != nil {
			// The kernel reports ENETDOWN once when the interface is
			// set down and keeps the socket working when it comes back
			// up; anything else (or an error that keeps coming) ends
			// this socket and the loop opens a new one.
			if errors.Is(err, unix.ENETDOWN) && failures < 10 {
				failures++
				time.Sleep(10 * time.Millisecond)
				continue
			}
			a.report(event{iface: h.name, sock: s, err: err})
			return
		}
		failures = 0
		a.handleFrame(h, s, buf[:n])
	}
}

// handleFrame parses one frame, decides and sends the reply, and reports a
// conflict to the loop.
func (a *Announcer) handleFrame(h *iface, s *sock, frame []byte) {
	var (
		am  arpMsg
		nm  ndpMsg
		err error
	)
	if s.proto == protoARP {
		am, err = parseARP(frame)
	} else {
		nm, err = parseNDP(frame)
	}
	if err != nil {
		return // not for us, or malformed: neither is worth a log line
	}
	friendly := friendlySet(*a.ownMACs.Load(), a.opts.FriendlyMACs)

	// Decide and send under the read lock, so that a view the loop has
	// replaced is never answered from afterwards.
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.view == nil {
		return
	}
	var (
		request  bool
		reply    []byte
		dst      net.HardwareAddr
		conflict netip.Addr
		mac      net.HardwareAddr
	)
	if s.proto == protoARP {
		d := decideARP(am, h.view, friendly)
		request, conflict, mac = d.Request, d.Conflict, d.ConflictMAC
		if d.Reply != nil {
			reply, err = marshalARP(*d.Reply)
			dst = d.Reply.EthDst
		}
	} else {
		d := decideNDP(nm, h.view, friendly)
		request, conflict, mac = d.Request, d.Conflict, d.ConflictMAC
		if d.Reply != nil {
			reply, err = marshalNDP(*d.Reply)
			dst = d.Reply.EthDst
		}
	}
	p := s.proto.String()
	if request {
		a.metrics.requests.WithLabelValues(p).Inc()
	}
	if err != nil {
		a.log.Error("build reply", "interface", h.name, "proto", p, "error", err)
	}
	if reply != nil {
		if err := s.send(reply, dst); err != nil {
			a.log.Debug("send reply", "interface", h.name, "proto", p, "error", err)
		} else {
			a.metrics.replies.WithLabelValues(p).Inc()
		}
	}
	if conflict.IsValid() {
		c := &Conflict{IP: conflict, Interface: h.name, MAC: append(net.HardwareAddr(nil), mac...), At: time.Now()}
		a.report(event{iface: h.name, conflict: c})
	}
}
