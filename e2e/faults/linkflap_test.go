package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// TestAnnouncerLinkFlap flaps the announcing node's LAN link for about as
// long as a switch port flap takes: long enough for the others to hold it
// dead and take its addresses, short enough that their takeover frames
// reach it once it is back, while it still holds them dead. Those frames
// come from a speaker, so they are a hand-over, not a foreign host claiming
// its addresses: a client that resolves the VIPs afresh is answered
// throughout, also when the addresses move back. Two faults this catches:
// the returning node taking the takeover frames for a foreign host's and
// keeping silent for 10 s while the others handed the addresses back to it
// (nobody answered); and the returning node answering, from its stale
// view, for addresses the others now hold (two MACs for one IP: clients
// flip between them mid-connection and get resets).
func TestAnnouncerLinkFlap(t *testing.T) {
	s := startLAN(t)
	h := s.c.Lab.Host(s.owner)
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	t.Cleanup(func() { _ = h.SetLink(true) })
	failover := firstAnswer(t, s.client, s.vips[0], 50*time.Millisecond, 10*time.Second).Sub(lost)
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Logf("%s lost for %v (first answer through another node after %v)", s.owner, back.Sub(lost).Round(time.Millisecond), failover.Round(time.Millisecond))

	// A fresh resolution of every VIP every 200 ms for 12 s: more than the
	// 10 s an address in conflict stays silent.
	ctx := context.Background()
	var failed, probes, late int
	for time.Since(back) < 12*time.Second {
		for _, vip := range s.vips {
			if out, err := s.client.Exec(ctx, "ip", "neigh", "flush", "to", vip.Addr().String(), "dev", s.client.Iface); err != nil {
				t.Fatalf("client: flush neighbor %s: %v: %s", vip.Addr(), err, out)
			}
			probes++
			if err := cluster.Request(ctx, s.client, vip, time.Second); err != nil {
				failed++
				since := time.Since(back)
				t.Logf("%v after the link came back: a client resolving %s afresh got no answer: %v", since.Round(time.Millisecond), vip, err)
				if since > time.Second {
					late++
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d of %d fresh resolutions failed after the link came back", failed, probes)
	// The move back may cost one request; none after the first second.
	if failed > 1 || late > 0 {
		t.Errorf("%d fresh resolutions failed, %d of them more than 1 s after the link came back", failed, late)
	}
	if probes < 40 {
		t.Errorf("only %d probes in 12 s", probes)
	}
}
