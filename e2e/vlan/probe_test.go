package vlan

import (
	"net/netip"
	"testing"
	"time"
)

// ProbeNeighbor keeps asking: a node answers for its own addresses about
// every 10 ms, in both families, and the kernel-filtered capture keeps the
// answers.
func TestProbeNeighborAsksEvery10ms(t *testing.T) {
	lab := New(t, Options{Nodes: 1})
	client, node := lab.Clients[0], lab.Nodes[0]
	ctx := ctxFor(t, 10*time.Second)
	capture, err := lab.CaptureNeighborDiscovery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{node.IPv4.Addr(), node.IPv6.Addr()} {
		stop, err := client.ProbeNeighbor(ctx, ip)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		stop()
		got := len(Answers(capture.Frames(), ip))
		t.Logf("%s: %d answers in a second", ip, got)
		if got < 30 {
			t.Errorf("%s: %d answers in a second, want about 100", ip, got)
		}
	}
}
