package bgp

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStopsBFDSession(t *testing.T) {
	lab := gobgpBFD(&BFDProfile{ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 200 * time.Millisecond, DetectMultiplier: 3})
	slower := gobgpBFD(&BFDProfile{ReceiveInterval: 300 * time.Millisecond, TransmitInterval: 200 * time.Millisecond, DetectMultiplier: 3})
	// Settings GoBGP does not take (name, passive mode, TTL) change nothing in GoBGP.
	renamed := gobgpBFD(&BFDProfile{Name: "other", PassiveMode: true, MinimumTTL: 254, ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 200 * time.Millisecond, DetectMultiplier: 3})
	for _, tt := range []struct {
		name          string
		before, after *BFDProfile
		deleted       bool
		want          bool
	}{
		{"delete a BFD peer", &BFDProfile{ReceiveInterval: time.Second}, nil, true, true},
		{"delete a peer without BFD", nil, nil, true, false},
		{"BFD added", nil, &BFDProfile{ReceiveInterval: time.Second}, false, false},
		{"BFD removed", &BFDProfile{ReceiveInterval: time.Second}, nil, false, true},
		{"BFD timers changed", &BFDProfile{ReceiveInterval: time.Second}, &BFDProfile{ReceiveInterval: 2 * time.Second}, false, true},
		{"BFD unchanged", &BFDProfile{ReceiveInterval: time.Second}, &BFDProfile{ReceiveInterval: time.Second}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := stopsBFDSession(gobgpBFD(tt.before), gobgpBFD(tt.after), tt.deleted); got != tt.want {
				t.Errorf("stopsBFDSession = %v, want %v", got, tt.want)
			}
		})
	}
	if !stopsBFDSession(lab, slower, false) {
		t.Error("a slower receive interval: no stop")
	}
	if stopsBFDSession(lab, renamed, false) {
		t.Error("a profile renamed, with passive mode and a TTL GoBGP ignores: a stop")
	}
}

func TestBFDStopsWait(t *testing.T) {
	b := newBFDStops()
	a := netip.MustParseAddr("192.0.2.1")
	other := netip.MustParseAddr("2001:db8::1")
	seen := b.count(a)
	var wg sync.WaitGroup
	wg.Add(1)
	var ok bool
	go func() {
		defer wg.Done()
		ok = b.wait(a, seen, 10*time.Second)
	}()
	b.stopped(other.String()) // counted for the other peer only
	b.stopped("not an address")
	b.stopped("::ffff:192.0.2.1") // GoBGP may log IPv4 peers mapped
	wg.Wait()
	if !ok || b.count(a) != seen+1 || b.count(other) != 1 {
		t.Errorf("wait = %v; counts %d, %d", ok, b.count(a), b.count(other))
	}
	// A stop that finished before the wait began counts too.
	if !b.wait(a, seen, time.Millisecond) {
		t.Error("wait for a stop already done: false")
	}
	start := time.Now()
	if b.wait(a, seen+1, 50*time.Millisecond) || time.Since(start) < 50*time.Millisecond {
		t.Error("wait without a stop: did not time out")
	}
}

// TestSpeakerWaitsForBFDStop runs a speaker with real GoBGP (peers that
// never answer) and checks that every call that stops a BFD session in
// GoBGP sees GoBGP's BFD server finish the stop, and none waits for the
// timeout: GoBGP still reports the stop as the speaker expects.
func TestSpeakerWaitsForBFDStop(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	spk, err := New(Options{RouterID: netip.MustParseAddr("127.0.0.1"), Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	peer := func(name, addr string, bfd time.Duration) Peer {
		p := Peer{Name: name, MyASN: 64512, PeerASN: 64500, Address: netip.MustParseAddr(addr), HoldTime: 90 * time.Second, ConnectTime: time.Second}
		if bfd > 0 {
			p.BFD = &BFDProfile{ReceiveInterval: bfd, TransmitInterval: bfd, DetectMultiplier: 3}
		}
		return p
	}
	a, b, c := peer("a", "127.0.0.21", time.Second), peer("b", "127.0.0.22", time.Second), peer("c", "127.0.0.23", 0)
	stop := runWithPeers(t, spk, []Peer{a, b, c})
	waitApplied := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			spk.lock()
			n := len(spk.applied)
			spk.unlock()
			if n == 3 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("peers not applied: %d", n)
			}
		}
	}
	waitApplied()
	stops := func() []uint64 {
		return []uint64{spk.bfdStops.count(a.Address), spk.bfdStops.count(b.Address), spk.bfdStops.count(c.Address)}
	}
	timed := func(what string, f func() error, want []uint64) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if d := time.Since(start); d > bfdStopTimeout/2 {
			t.Errorf("%s took %v: a wait for GoBGP's BFD server timed out", what, d)
		}
		if got := stops(); !equalCounts(got, want) {
			t.Errorf("after %s: BFD stops seen %v, want %v", what, got, want)
		}
	}
	// New BFD timers for a (GoBGP stops its BFD session and starts
	// another), BFD off for b; c has none.
	a2, b2 := a, b
	a2.BFD = &BFDProfile{ReceiveInterval: 2 * time.Second, TransmitInterval: 2 * time.Second, DetectMultiplier: 3}
	b2.BFD = nil
	timed("updating BFD", func() error { return spk.SetPeers([]Peer{a2, b2, c}) }, []uint64{1, 1, 0})
	// A password rebuilds a's session: a deletion.
	a3 := a2
	a3.Password = "secret"
	timed("re-creating a BFD peer", func() error { return spk.SetPeers([]Peer{a3, b2, c}) }, []uint64{2, 1, 0})
	timed("removing every peer", func() error { return spk.SetPeers(nil) }, []uint64{3, 1, 0})
	// Stopping turns BFD off peer by peer before GoBGP stops.
	timed("adding BFD peers back", func() error { return spk.SetPeers([]Peer{a, b, c}) }, []uint64{3, 1, 0})
	waitApplied()
	logged := func(msg string) int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(logs.String(), "msg=\""+msg+"\"")
	}
	updates := logged("Update BFD configuration")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := stops(); !equalCounts(got, []uint64{4, 2, 0}) {
		t.Errorf("after stopping: BFD stops seen %v, want [4 2 0]", got)
	}
	// Stopped by updates, before StopBgp deletes the peers.
	if n := logged("Update BFD configuration") - updates; n != 2 {
		t.Errorf("BFD turned off for %d peers before GoBGP stopped, want 2", n)
	}
	if logged("GoBGP's BFD server did not finish stopping a BFD session; the BGP engine may be stuck") > 0 {
		t.Error("a wait timed out")
	}
}

func equalCounts(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lockedWriter serializes writes from GoBGP's goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
