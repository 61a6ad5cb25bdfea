package members

import (
	"testing"
	"time"
)

func TestPendingSeesUnreadPackets(t *testing.T) {
	pc := listenLoopback(t, 0)
	defer pc.Close()
	c := newPacketConn(pc)
	if err := c.tune("udp4"); err != nil {
		t.Fatalf("tune: %v", err)
	}
	if n := c.pending(); n != 0 {
		t.Fatalf("pending on an idle socket: %d", n)
	}
	if _, err := pc.WriteTo([]byte("hello"), pc.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "packet queued", func() bool { return c.pending() > 0 })
	buf := make([]byte, 16)
	if n, _, err := c.readFrom(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if n := c.pending(); n != 0 {
		t.Fatalf("pending after reading everything: %d", n)
	}
}
