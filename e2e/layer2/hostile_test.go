package layer2_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/speaker/members"
)

// attacker sends UDP packets from a host on the LAN that has no key, with
// any source address it likes (IP_FREEBIND, IP_TRANSPARENT): it can pretend to be a node.
type attacker struct {
	t     *testing.T
	host  *vlan.Host
	socks map[netip.AddrPort]net.PacketConn
	sent  int
}

// socket is the attacker's socket with source address src.
func (a *attacker) socket(src netip.AddrPort) (net.PacketConn, error) {
	if pc, ok := a.socks[src]; ok {
		return pc, nil
	}
	var pc net.PacketConn
	err := a.host.Do(func() error {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				// FREEBIND binds a foreign address, TRANSPARENT lets
				// packets leave with it as source.
				serr = errors.Join(unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1),
					unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1))
			}); err != nil {
				return err
			}
			return serr
		}}
		var err error
		pc, err = lc.ListenPacket(context.Background(), "udp4", src.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attacker socket from %s: %w", src, err)
	}
	a.t.Cleanup(func() { pc.Close() })
	a.socks[src] = pc
	return pc, nil
}

// send injects one packet, paced so that the receivers' socket buffers
// never overflow (every injected packet must be judged, not lost).
func (a *attacker) send(src, dst netip.AddrPort, payload []byte) {
	a.t.Helper()
	if src.Addr() == dst.Addr() {
		// A node's own packet sent back to it cannot leave with its own
		// address as source: send it from the attacker's.
		src = netip.AddrPortFrom(a.host.IPv4.Addr(), src.Port())
	}
	pc, err := a.socket(src)
	if err == nil {
		_, err = pc.WriteTo(payload, net.UDPAddrFromAddrPort(dst))
	}
	if err != nil {
		a.t.Fatalf("attacker send %s -> %s: %v", src, dst, err)
	}
	a.sent++
	if a.sent%16 == 0 {
		time.Sleep(2 * time.Millisecond)
	}
}

// sendQuiet is send for a goroutine that is not the test's: errors are
// ignored (the spoofed node's link may be down), nothing is counted.
func (a *attacker) sendQuiet(src, dst netip.AddrPort, payload []byte) {
	if pc, err := a.socket(src); err == nil {
		_, _ = pc.WriteTo(payload, net.UDPAddrFromAddrPort(dst))
	}
}

// forge builds a members packet in the documented wire format (version 2,
// speaker/members/codec.go) and signs it with a key of the attacker's own:
// the best it can do without the cluster's key.
type forgedRumor struct {
	status byte // 1 alive, 2 dead, 3 left
	inc    uint64
	name   string
}

func forge(typ, status byte, seq, inc uint64, from string, rumors ...forgedRumor) []byte {
	b := []byte("ILBM")
	b = append(b, 2, typ, 0, status)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixNano()))
	b = binary.BigEndian.AppendUint64(b, inc)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(append(b, byte(len(from))), from...)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rumors)))
	for _, r := range rumors {
		b = append(b, r.status)
		b = binary.BigEndian.AppendUint64(b, r.inc)
		b = append(append(b, byte(len(r.name))), r.name...)
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	mac := hmac.New(sha256.New, []byte("the attacker's own guess of a key"))
	mac.Write(b)
	return append(b, mac.Sum(nil)[:16]...)
}

// membersView is what a speaker's metrics say about its liveness view and
// the packets it refused.
type membersView struct {
	alive       int
	transitions int // every change of a peer's state so far
	rejected    map[string]int
	keys        int
	fingerprint string
}

var (
	metricLine  = regexp.MustCompile(`(?m)^(ironlb_members_[a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$`)
	labelValue  = regexp.MustCompile(`^[a-z]+="([^"]*)"$`)
	speakerAddr = "http://" + cluster.SpeakerMetricsAddr + "/metrics"
)

func viewOf(t *testing.T, n *vlan.Host) membersView {
	t.Helper()
	v := membersView{rejected: map[string]int{}}
	body := cluster.HTTPGet(t, cluster.NodeHTTPClient(n), speakerAddr)
	for _, m := range metricLine.FindAllStringSubmatch(string(body), -1) {
		f, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%s: %s: %v", n.Name, m[0], err)
		}
		label := ""
		if lv := labelValue.FindStringSubmatch(m[2]); lv != nil {
			label = lv[1]
		}
		switch m[1] {
		case "ironlb_members_alive":
			v.alive = int(f)
		case "ironlb_members_transitions_total":
			v.transitions += int(f)
		case "ironlb_members_heartbeats_rejected_total":
			v.rejected[label] = int(f)
		case "ironlb_members_keys":
			v.keys = int(f)
		case "ironlb_members_signing_key_info":
			v.fingerprint = label
		}
	}
	return v
}

func views(t *testing.T, c *cluster.Cluster) map[string]membersView {
	out := map[string]membersView{}
	for _, n := range c.Lab.Nodes {
		out[n.Name] = viewOf(t, n)
	}
	return out
}

func rejectedTotal(vs map[string]membersView) map[string]int {
	out := map[string]int{}
	for _, v := range vs {
		for r, n := range v.rejected {
			out[r] += n
		}
	}
	return out
}

// TestHostileLANChangesNoViewAndFailoverStaysFast: a host on the LAN
// without the key sends forged heartbeats, forged leave and death notices,
// tampered genuine packets, and replays of genuine packets it captured:
// later to every node, and at once to the nodes they were not meant for.
// No speaker's view changes (every speaker still sees all three alive, no
// transition), the owner of the Service IP and the client's neighbour
// entry stay, and every injected packet is counted as rejected (so each
// one was really received and judged). Then the owner's link goes down
// while the attacker replays the owner's packets to the others: failover
// still takes less than 500 ms.
func TestHostileLANChangesNoViewAndFailoverStaysFast(t *testing.T) {
	c := l2Cluster(t, cluster.Options{Clients: 2, SpeakerArgs: []string{"-metrics-bind-address", cluster.SpeakerMetricsAddr, "-metrics-secure=false"}})
	ip, owner := failoverService(t, c)
	ownerMAC := macOf(c, owner)
	client := c.Lab.Clients[0]
	atk := &attacker{t: t, host: c.Lab.Clients[1], socks: map[netip.AddrPort]net.PacketConn{}}
	port := uint16(members.DefaultPort)
	addrOf := func(node string) netip.AddrPort { return netip.AddrPortFrom(c.NodeAddr(node, false), port) }

	isMembers := func(f vlan.Frame) bool { return f.Protocol == vlan.ProtoUDP && f.DstPort == port && len(f.Payload) > 0 }
	capt, err := c.Lab.Capture(context.Background(), isMembers)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	genuine := capt.Stop()
	if len(genuine) < 100 {
		t.Fatalf("captured %d liveness packets in 1 s, want the normal ~360", len(genuine))
	}
	cluster.Eventually(t, 10*time.Second, "every speaker sees 3 alive", func() error {
		for n, v := range views(t, c) {
			if v.alive != 3 {
				return fmt.Errorf("%s sees %d alive", n, v.alive)
			}
		}
		return nil
	})
	before := views(t, c)

	// Forgeries: garbage, then well-formed packets with a wrong key.
	junk := make([]byte, 120)
	_, _ = rand.Read(junk)
	for _, n := range c.Lab.Nodes {
		dst := addrOf(n.Name)
		atk.send(netip.AddrPortFrom(atk.host.IPv4.Addr(), 40000), dst, junk)
		atk.send(addrOf(owner), dst, forge(3, 3, math.MaxUint64, math.MaxUint64-1, owner))           // "owner left"
		atk.send(addrOf(owner), dst, forge(1, 1, math.MaxUint64, math.MaxUint64-1, owner))           // owner alive, far ahead
		atk.send(netip.AddrPortFrom(atk.host.IPv4.Addr(), port), dst, forge(1, 1, 1, 1, "intruder")) // a new member
		for _, other := range c.Lab.Nodes {
			if other.Name == owner {
				continue
			}
			atk.send(addrOf(other.Name), dst, forge(3, 1, math.MaxUint64, math.MaxUint64-1, other.Name,
				forgedRumor{status: 2, inc: math.MaxUint64 - 1, name: owner})) // "owner is dead"
		}
		// A genuine packet of the owner, turned into a leave notice.
		for _, f := range genuine {
			if f.SrcIP == c.NodeAddr(owner, false) {
				p := append([]byte(nil), f.Payload...)
				p[7] = 3
				atk.send(addrOf(owner), dst, p)
				break
			}
		}
	}
	// Replays, later: every captured packet to its destination and to
	// every other node, from its real source.
	for _, f := range genuine {
		for _, n := range c.Lab.Nodes {
			atk.send(netip.AddrPortFrom(f.SrcIP, f.SrcPort), addrOf(n.Name), f.Payload)
		}
	}
	// Replays at once: live packets relayed to the nodes they were not
	// meant for, before their own next packet can get there.
	relay, err := c.Lab.Capture(context.Background(), func(f vlan.Frame) bool { return isMembers(f) && f.Port != atk.host.Name })
	if err != nil {
		t.Fatal(err)
	}
	relayed := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		frames := relay.Frames()
		if relayed < len(frames) {
			for _, f := range frames[relayed:] {
				for _, n := range c.Lab.Nodes {
					if dst := addrOf(n.Name); dst.Addr() != f.DstIP {
						atk.send(netip.AddrPortFrom(f.SrcIP, f.SrcPort), dst, f.Payload)
					}
				}
			}
			relayed = len(frames)
		}
		// Wait for a frame not relayed yet (WaitFor looks from the first).
		seen := 0
		_, _ = relay.WaitFor(ctx, func(vlan.Frame) bool { seen++; return seen > relayed })
		cancel()
	}
	relay.Stop()
	t.Logf("attacker sent %d packets (%d genuine packets replayed later, %d relayed at once)", atk.sent, len(genuine), relayed)

	// Every injected packet was received and refused, and nothing moved.
	var after map[string]membersView
	cluster.Eventually(t, 5*time.Second, "every injected packet counted as rejected", func() error {
		after = views(t, c)
		got, was := 0, 0
		for _, n := range rejectedTotal(after) {
			got += n
		}
		for _, n := range rejectedTotal(before) {
			was += n
		}
		if got-was != atk.sent {
			return fmt.Errorf("%d packets rejected, %d injected (before %v, after %v)", got-was, atk.sent, rejectedTotal(before), rejectedTotal(after))
		}
		return nil
	})
	for name, v := range after {
		if v.alive != 3 || v.transitions != before[name].transitions {
			t.Errorf("%s: view changed: %d alive, %d -> %d transitions", name, v.alive, before[name].transitions, v.transitions)
		}
	}
	if st := c.L2Status(t, "default", "web", ip); st == nil || st.Status.Node != owner {
		t.Errorf("owner of %s changed: %+v", ip, st)
	}
	if got := neighborMAC(t, client, ip); got != ownerMAC {
		t.Errorf("client's neighbour entry for %s: %s, want the owner's %s", ip, got, ownerMAC)
	}
	t.Logf("rejected by reason: %v", rejectedTotal(after))

	// A real failure is still detected in time, while the attacker replays
	// the dead owner's packets to the survivors.
	arp, err := c.Lab.Capture(context.Background(), func(f vlan.Frame) bool { return f.ARP != nil })
	if err != nil {
		t.Fatal(err)
	}
	defer arp.Stop()
	arpProbe(t, c, ip)
	ctx, stopReplay := context.WithCancel(context.Background())
	replayDone := make(chan struct{})
	var ownerPkts [][]byte
	for _, f := range genuine {
		if f.SrcIP == c.NodeAddr(owner, false) {
			ownerPkts = append(ownerPkts, f.Payload)
		}
	}
	go func() {
		defer close(replayDone)
		for i := 0; ctx.Err() == nil; i++ {
			for _, n := range c.Lab.Nodes {
				if n.Name != owner {
					atk.sendQuiet(addrOf(owner), addrOf(n.Name), ownerPkts[i%len(ownerPkts)])
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	downAt := time.Now()
	if err := c.Lab.Host(owner).SetLink(false); err != nil {
		t.Fatal(err)
	}
	newMAC, at := waitForNewAnswerer(t, arp, ip, ownerMAC, downAt)
	stopReplay()
	<-replayDone
	failover := at.Sub(downAt)
	t.Logf("failover with the owner's link down under replay: %v (to %s)", failover, nodeByMAC(c, newMAC))
	if failover >= 500*time.Millisecond {
		t.Errorf("failover took %v, want < 500ms", failover)
	}
}
