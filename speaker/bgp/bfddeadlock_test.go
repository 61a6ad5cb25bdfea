package bgp

import (
	"context"
	"net/netip"
	"net/rpc"
	"os"
	"strings"
	"testing"
	"time"
)

// slowReset is how long the speaker's log sink takes to write "BFD
// session down", which GoBGP's BFD goroutine logs (through the speaker's
// handler) between giving up on a session and asking the BGP server for
// the reset. A loaded node stretches that moment the same way.
const slowReset = 3 * time.Second

// TestBFDStopDuringReset reproduces GoBGP 4.8.0's deadlock (bfdstop.go)
// twice, and shows that the speaker no longer runs into it. GoBGP's BFD
// goroutines are slowed (the log sink takes slowReset) between giving up
// on a session and asking the BGP server to reset it; meanwhile the
// speaker deletes those peers and makes more BFD changes:
//
//  1. The BFD gate: FRR 8.4 re-registers a neighbor's BFD session with
//     the session's source address when the BGP session first comes up,
//     which takes BFD down and sends a Cease (bgpd.log: "bfd state Up ->
//     Down", "Cease/BFD Down"). The gate then replaces both peers (delete
//     and add each) while GoBGP's resets are still to come.
//  2. SetPeers: the node's link goes down, GoBGP's BFD gives up on both
//     sessions, and SetPeers removes both BFD peers and one more.
//
// Without the speaker's wait for GoBGP's BFD server, GoBGP's main loop
// blocks for good in either case, and with it every call into the engine.
func TestBFDStopDuringReset(t *testing.T) {
	b := newBGPLab(t, labSpec{nodes: 1, bfd: true})
	// About 20 s; the bound leaves room for a loaded machine.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	node := b.speakers[0]
	var extra []Peer
	for i, a := range []string{"192.0.2.201", "192.0.2.202"} {
		extra = append(extra, Peer{
			Name: "x" + string(rune('1'+i)), Address: netip.MustParseAddr(a), MyASN: nodeASN, PeerASN: torASN,
			HoldTime: 90 * time.Second, ConnectTime: 2 * time.Second,
		})
	}
	peers := append(b.peers(withBFD), extra...)
	vip := mustPrefix("203.0.113.10/32")
	opts := b.options(0)
	opts.SlowLog, opts.SlowLogDelay = "BFD session down", slowReset
	node.Start(StartArgs{Options: opts, Peers: peers, Routes: []Route{{Prefix: vip}}, SetRoutes: true})
	began := time.Now()

	// 1. The sessions come up, FRR takes BFD down, the gate replaces both
	// peers, and the sessions come up again for good.
	for {
		st := statusOrDump(t, node, "the BFD gate's replacements")
		up := 0
		for _, p := range st {
			if (p.Name == torV4 || p.Name == torV6) && p.State == StateEstablished && p.BFD == BFDUp &&
				strings.Contains(p.LastError, "BFD down") && time.Since(p.LastErrorTime) > slowReset {
				up++
			}
		}
		if up == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("sessions not back after FRR's BFD down: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(readFile(t, node.logPath), "BGP peer replaced after BFD went down"); n < 2 {
		t.Fatalf("the gate replaced %d peers, want both: the race was not run", n)
	}
	b.waitBFD(ctx, b.allNeighbors(), nil)
	t.Logf("the gate's replacements done, sessions back %v after the start", time.Since(began).Round(time.Millisecond))

	// 2. The link goes down; GoBGP's BFD gives up on both sessions (the
	// speaker records that before it logs it) and is on its way to reset
	// them when SetPeers removes tor-v4, tor-v6 and x1, in that order.
	cut := time.Now()
	if err := b.lab.Nodes[0].SetLink(false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{torV4, torV6} {
		for st := node.PeerStatus(name); !strings.Contains(st.LastError, "BFD down") || st.LastErrorTime.Before(cut); st = node.PeerStatus(name) {
			if ctx.Err() != nil {
				t.Fatalf("BFD did not go down for %s: %+v", name, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	start := time.Now()
	call := node.client.Go("SpeakerHelper.SetPeers", extra[1:], &struct{}{}, nil)
	waitOrDump(t, node, "SetPeers", call.Done)
	if call.Error != nil {
		t.Fatal(call.Error)
	}
	t.Logf("SetPeers returned after %v (GoBGP's BFD resets came %v late)", time.Since(start).Round(time.Millisecond), slowReset)
	if st := node.Status(); len(st) != 1 || st[0].Name != "x2" {
		t.Errorf("status after removing three peers: %+v", st)
	}

	// The engine still works: the link and the peers come back.
	back := time.Now()
	if err := b.lab.Nodes[0].SetLink(true); err != nil {
		t.Fatal(err)
	}
	if err := node.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	b.waitEstablished(ctx)
	b.waitBFD(ctx, b.allNeighbors(), nil)
	b.waitNextHops(ctx, vip, b.nodeAddrs(true))
	t.Logf("sessions back %v after the link", time.Since(back).Round(time.Millisecond))
}

// stuckAfter is how long a call into the speaker may take in
// TestBFDStopDuringReset: GoBGP's slowed resets plus a wide margin.
const stuckAfter = slowReset + 15*time.Second

// statusOrDump returns the speaker's status, or fails the test with the
// helper's goroutines if it does not come (the engine is stuck).
func statusOrDump(t *testing.T, n *nodeSpeaker, during string) []PeerStatus {
	t.Helper()
	var st []PeerStatus
	call := n.client.Go("SpeakerHelper.Status", struct{}{}, &st, nil)
	waitOrDump(t, n, "Status during "+during, call.Done)
	if call.Error != nil {
		t.Fatal(call.Error)
	}
	return st
}

// waitOrDump waits for an RPC call to the helper; when it does not return
// within stuckAfter it fails the test with the goroutines of the cycle.
func waitOrDump(t *testing.T, n *nodeSpeaker, what string, done <-chan *rpc.Call) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(stuckAfter):
		stacks, err := n.Goroutines()
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("%s has not returned after %v: GoBGP is deadlocked (%s); goroutines of the cycle:\n%s",
			what, stuckAfter, describeCycle(stacks), strings.Join(bfdCycleStacks(stacks), "\n\n"))
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The goroutines of GoBGP's BFD deadlock, as they show in a dump.
var bfdCycleMarkers = []struct{ who, frame string }{
	{"GoBGP's BFD server stopping a peer", "(*bfdPeer).Stop("},
	{"a BFD peer resetting its session", "(*bfdPeer).resetPeer("},
	{"the main loop sending to the BFD server", "(*bfdServer).DeletePeer("},
}

// bfdCycleStacks returns the goroutine stacks of a dump that take part in
// the cycle.
func bfdCycleStacks(dump string) []string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		for _, m := range bfdCycleMarkers {
			if strings.Contains(g, m.frame) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// describeCycle says which parts of the cycle a dump shows.
func describeCycle(dump string) string {
	var have, lack []string
	for _, m := range bfdCycleMarkers {
		if strings.Contains(dump, m.frame) {
			have = append(have, m.who)
		} else {
			lack = append(lack, m.who)
		}
	}
	return "blocked: " + strings.Join(have, "; ") + "; not seen: " + strings.Join(lack, "; ")
}
