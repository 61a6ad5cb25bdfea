package layer2_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/speaker/members"
)

// writeKeys replaces the key file at once, as the kubelet swaps a mounted
// Secret's files.
func writeKeys(t *testing.T, path string, keys ...string) {
	t.Helper()
	tmp := path + ".new"
	var text string
	for _, k := range keys {
		text += k + "\n"
	}
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestLivenessKeyRotatesWithoutFailover rotates the speakers' key in the
// three documented steps while the client keeps asking for the Service IP:
// no speaker sees another die, no packet fails authentication, the owner
// and the client's neighbour entry stay and no other node ever answers for
// the IP. At the end the old key is really gone: a packet captured before
// the rotation now fails authentication.
func TestLivenessKeyRotatesWithoutFailover(t *testing.T) {
	c := l2Cluster(t, cluster.Options{Clients: 2, SpeakerArgs: []string{"-metrics-bind-address", cluster.SpeakerMetricsAddr, "-metrics-secure=false"}})
	ip, owner := failoverService(t, c)
	ownerMAC := macOf(c, owner)
	port := uint16(members.DefaultPort)

	// One genuine packet signed with the old key, for the final check.
	old, err := c.Lab.Capture(context.Background(), func(f vlan.Frame) bool {
		return f.Protocol == vlan.ProtoUDP && f.DstPort == port && len(f.Payload) > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	oldPkt, err := old.WaitFor(context.Background(), func(vlan.Frame) bool { return true })
	old.Stop()
	if err != nil {
		t.Fatal(err)
	}

	arp, err := c.Lab.Capture(context.Background(), func(f vlan.Frame) bool { return f.ARP != nil })
	if err != nil {
		t.Fatal(err)
	}
	defer arp.Stop()
	arpProbe(t, c, ip)
	before := views(t, c)

	oldKey, err := os.ReadFile(c.MembersKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	newKey := hex.EncodeToString(b)
	start := time.Now()
	steps := []struct {
		keys []string
		want func(v membersView, first string) error
	}{
		{[]string{string(oldKey), newKey}, func(v membersView, first string) error {
			if v.keys != 2 || v.fingerprint != first {
				return fmt.Errorf("%d keys, signing %s", v.keys, v.fingerprint)
			}
			return nil
		}},
		{[]string{newKey, string(oldKey)}, func(v membersView, first string) error {
			if v.keys != 2 || v.fingerprint == first {
				return fmt.Errorf("%d keys, still signing with %s", v.keys, v.fingerprint)
			}
			return nil
		}},
		{[]string{newKey}, func(v membersView, first string) error {
			if v.keys != 1 || v.fingerprint == first {
				return fmt.Errorf("%d keys, signing %s", v.keys, v.fingerprint)
			}
			return nil
		}},
	}
	first := before[owner].fingerprint
	for i, st := range steps {
		writeKeys(t, c.MembersKeyFile(), st.keys...)
		cluster.Eventually(t, 10*time.Second, fmt.Sprintf("rotation step %d on every speaker", i+1), func() error {
			for name, v := range views(t, c) {
				if err := st.want(v, first); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return nil
		})
		// Let traffic flow on this step before the next one.
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("rotation took %v", time.Since(start).Round(time.Millisecond))

	after := views(t, c)
	for name, v := range after {
		if v.alive != 3 || v.transitions != before[name].transitions {
			t.Errorf("%s: view changed during the rotation: %d alive, %d -> %d transitions", name, v.alive, before[name].transitions, v.transitions)
		}
		if d := v.rejected["auth"] - before[name].rejected["auth"]; d != 0 {
			t.Errorf("%s: %d packets failed authentication during the rotation", name, d)
		}
	}
	if st := c.L2Status(t, "default", "web", ip); st == nil || st.Status.Node != owner {
		t.Errorf("owner of %s changed: %+v", ip, st)
	}
	if got := neighborMAC(t, c.Lab.Clients[0], ip); got != ownerMAC {
		t.Errorf("client's neighbour entry for %s: %s, want %s", ip, got, ownerMAC)
	}
	answers := vlan.Answers(arp.Stop(), ip)
	if len(answers) < 10 {
		t.Errorf("only %d ARP answers for %s during the rotation: the client was not asking", len(answers), ip)
	}
	for _, f := range answers {
		if f.Src.String() != ownerMAC {
			t.Errorf("%s answered for %s at %s during the rotation", nodeByMAC(c, f.Src.String()), ip, f.Time.Format(time.StampMilli))
			break
		}
	}

	// The old key is gone: its packet is now refused as forged.
	atk := &attacker{t: t, host: c.Lab.Clients[1], socks: map[netip.AddrPort]net.PacketConn{}}
	dst := netip.AddrPortFrom(oldPkt.DstIP, port)
	atk.send(netip.AddrPortFrom(oldPkt.SrcIP, oldPkt.SrcPort), dst, oldPkt.Payload)
	n := c.Lab.Host(nodeByAddr(c, oldPkt.DstIP))
	cluster.Eventually(t, 5*time.Second, "the old key's packet rejected as auth", func() error {
		if got, was := viewOf(t, n).rejected["auth"], after[n.Name].rejected["auth"]; got != was+1 {
			return fmt.Errorf("auth rejections %d -> %d", was, got)
		}
		return nil
	})
}

func nodeByAddr(c *cluster.Cluster, a netip.Addr) string {
	for _, n := range c.Lab.Nodes {
		if n.IPv4.Addr() == a {
			return n.Name
		}
	}
	return "unknown address " + a.String()
}
