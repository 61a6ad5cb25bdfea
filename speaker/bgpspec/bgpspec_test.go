package bgpspec

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestPeerNeverPrintsItsPassword(t *testing.T) {
	p := Peer{Name: "tor1", MyASN: 64512, PeerASN: 64500, Address: netip.MustParseAddr("192.0.2.1")}
	p.Password = "s3cret-pw"
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("peer", "peer", p, "list", []Peer{p})
	slog.New(slog.NewTextHandler(&b, nil)).Info("peer", "peer", p)
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v %#v %v %s %d", p, p, []Peer{p}, p, p), b.String()} {
		if strings.Contains(s, "s3cret-pw") {
			t.Errorf("password printed: %s", s)
		}
		if !strings.Contains(s, "tor1") {
			t.Errorf("peer name missing: %s", s)
		}
	}
}
