package bgp

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// gobgpHandler is the slog.Handler GoBGP logs through. It
//   - reports failed TCP connects to connectFailed: GoBGP logs them at
//     debug level and keeps no state about them, and they are the only
//     trace of a TCP-MD5 password mismatch (the peer's kernel drops our
//     SYNs silently);
//   - reports BFD going down, and GoBGP's BFD server finishing the stop
//     of a BFD session (bfdstop.go says why the speaker waits for it);
//   - drops the error GoBGP's Stop logs when the server was already
//     stopped with StopBgp (Run does that to keep graceful restart);
//   - redacts every configured password from messages and attributes, as
//     a second line of defence (GoBGP does not log them today);
//   - passes the rest to the speaker's handler at the levels it wants.
type gobgpHandler struct {
	next    slog.Handler
	secrets *secrets
	hooks   logHooks
	peer    string // the "Key" attribute GoBGP adds for a peer's logs
}

// logHooks receive the events the handler picks out of GoBGP's logs.
type logHooks struct {
	connectFailed func(peer, err string)
	bfdDown       func(peer, why string)
	bfdStopped    func(peer string)
}

func newGoBGPHandler(next slog.Handler, s *secrets, hooks logHooks) *gobgpHandler {
	return &gobgpHandler{next: next, secrets: s, hooks: hooks}
}

// attr returns the value of a record's attribute.
func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// Enabled is true at every level: the connect failures come at debug
// level whatever the speaker's own level is. Handle filters.
func (h *gobgpHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *gobgpHandler) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Message == "failed to connect" && h.peer != "":
		h.hooks.connectFailed(h.peer, h.secrets.redact(attr(r, "Error")))
	case r.Message == "Expired" && attr(r, "Topic") == "bfd":
		h.hooks.bfdDown(attr(r, "Peer"), "no BFD packet from the peer within the detection time")
	case r.Message == "Remote peer signaled BFD down":
		h.hooks.bfdDown(attr(r, "Peer"), "the peer signalled BFD down")
	case r.Message == "Remove BFD peer" && attr(r, "Topic") == "bfd":
		h.hooks.bfdStopped(attr(r, "Peer"))
	case r.Message == "failed to stop BGP server":
		return nil
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, h.secrets.redactRecord(r))
}

func (h *gobgpHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		if a.Key == "Key" {
			c.peer = a.Value.String()
		}
		clean[i] = h.secrets.redactAttr(a)
	}
	c.next = h.next.WithAttrs(clean)
	return &c
}

func (h *gobgpHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

// secrets is the set of passwords currently configured.
type secrets struct {
	mu   sync.RWMutex
	list []string
}

// add adds passwords to the set. Replaced passwords stay: GoBGP may still
// hold or log them for a while.
func (s *secrets) add(list []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range list {
		if p != "" && !slices.Contains(s.list, p) {
			s.list = append(s.list, p)
		}
	}
}

func (s *secrets) contains(text string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.list {
		if p != "" && strings.Contains(text, p) {
			return true
		}
	}
	return false
}

const redacted = "[redacted]"

func (s *secrets) redact(text string) string {
	if !s.contains(text) {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.list {
		if p != "" {
			text = strings.ReplaceAll(text, p, redacted)
		}
	}
	return text
}

func (s *secrets) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = s.redactAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindString, slog.KindAny:
		text := v.String()
		if s.contains(text) {
			return slog.String(a.Key, s.redact(text))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactRecord returns r, rebuilt only if something in it needs hiding.
func (s *secrets) redactRecord(r slog.Record) slog.Record {
	s.mu.RLock()
	none := len(s.list) == 0
	s.mu.RUnlock()
	if none {
		return r
	}
	dirty := s.contains(r.Message)
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			dirty = s.redactAttr(a).Value.String() != a.Value.Resolve().String()
			return !dirty
		})
	}
	if !dirty {
		return r
	}
	out := slog.NewRecord(r.Time, r.Level, s.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.redactAttr(a))
		return true
	})
	return out
}
