package frr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Daemon names an FRR daemon of the router.
type Daemon string

const (
	Zebra Daemon = "zebra"
	BFDD  Daemon = "bfdd"
	BGPD  Daemon = "bgpd"
)

// A daemon's vty socket speaks the protocol vtysh uses: a command ends with
// a NUL byte, and its output ends with three NUL bytes and the command's
// return code (0: success). Talking to the socket directly instead of
// running vtysh takes well under a millisecond instead of ~80 ms, which is
// what lets benchmarks poll the router without distorting their figures.

// vtyTimeout bounds one exchange when the caller's context has no deadline.
const vtyTimeout = 10 * time.Second

// Exec runs commands one after another on one vty session of a daemon and
// returns the output of the last one. The session starts in enable mode,
// so "configure terminal" works; an error names the failing command and
// carries the daemon's message.
func (r *Router) Exec(ctx context.Context, d Daemon, commands ...string) ([]byte, error) {
	if len(commands) == 0 {
		return nil, errors.New("frr: Exec: no command")
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", filepath.Join(r.Dir, string(d)+".vty"))
	if err != nil {
		return nil, fmt.Errorf("frr %s: connect to %s: %w", r.Host.Name, d, err)
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(vtyTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("frr %s: %s: %w", r.Host.Name, d, err)
	}
	// Unblock reads when ctx is cancelled before the deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	var out []byte
	for _, c := range append([]string{"enable"}, commands...) {
		if strings.ContainsAny(c, "\x00\n") {
			return nil, fmt.Errorf("frr %s: %s: command %q contains a NUL or newline", r.Host.Name, d, c)
		}
		var rc byte
		out, rc, err = vtyExchange(conn, c)
		if err != nil {
			return nil, fmt.Errorf("frr %s: %s: %q: %w", r.Host.Name, d, c, err)
		}
		if rc != 0 {
			return out, fmt.Errorf("frr %s: %s: %q failed (code %d): %s", r.Host.Name, d, c, rc, bytes.TrimSpace(out))
		}
	}
	return out, nil
}

// vtyExchange sends one command and reads its output up to the trailer.
func vtyExchange(conn net.Conn, cmd string) ([]byte, byte, error) {
	if _, err := conn.Write(append([]byte(cmd), 0)); err != nil {
		return nil, 0, err
	}
	var buf []byte
	chunk := make([]byte, 64<<10)
	for {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if l := len(buf); l >= 4 && buf[l-4] == 0 && buf[l-3] == 0 && buf[l-2] == 0 {
			return buf[:l-4], buf[l-1], nil
		}
		if err != nil {
			return buf, 0, err
		}
	}
}

// JSON runs a show command (which must end in "json") on a daemon and
// decodes its output into v.
func (r *Router) JSON(ctx context.Context, d Daemon, command string, v any) error {
	out, err := r.Exec(ctx, d, command)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("frr %s: %s: %q: decode: %w: %.300s", r.Host.Name, d, command, err, out)
	}
	return nil
}

// Configure applies configuration lines (as typed after "configure
// terminal") to a daemon of the running router.
func (r *Router) Configure(ctx context.Context, d Daemon, lines ...string) error {
	_, err := r.Exec(ctx, d, append(append([]string{"configure terminal"}, lines...), "end")...)
	return err
}
