package layer2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// lockedBuffer collects log lines written from the Run goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// announcing lists the IPs the log says are announced (the "announcing"
// lines, as e2e/speakerscale replays them).
func (b *lockedBuffer) announcing(t testing.TB) map[netip.Addr]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[netip.Addr]bool{}
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		var l struct{ Msg, IP string }
		if len(line) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg == "announcing" {
			out[netip.MustParseAddr(l.IP)] = true
		}
	}
	return out
}

// Every claim that reaches Announced is logged "announcing", the one that
// skips the probe (Waiting to Announced in one step: a failover) as well
// as the one that probes first.
func TestLabLogsAnnouncingWithAndWithoutProbe(t *testing.T) {
	requireRoot(t)
	lab := vlan.New(t, vlan.Options{Nodes: 1})
	var logs lockedBuffer
	n := startNode(t, lab.Nodes[0], Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	setClaims(t, n, append(claims(false, "eth0", labVIP4, labVIP6), claims(true, "eth0", labVIP4b, labVIP6b)...))
	for _, ip := range []netip.Addr{labVIP4, labVIP6, labVIP4b, labVIP6b} {
		waitPhase(t, n, ip, "eth0", PhaseAnnounced)
	}
	eventually(t, "every announced IP logged", func() error {
		got := logs.announcing(t)
		for _, ip := range []netip.Addr{labVIP4, labVIP6, labVIP4b, labVIP6b} {
			if !got[ip] {
				return fmt.Errorf("%s is announced, but the log says only %v", ip, got)
			}
		}
		return nil
	})
}
