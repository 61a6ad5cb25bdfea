package layer2

import (
	"testing"

	"golang.org/x/net/bpf"
)

// The kernel runs the socket filters; bpf.VM cannot run their first part
// (interface index and VLAN tag are kernel extensions), so this checks the
// rest on real frames. The extension part is covered by the lab tests.
func TestNDPFilterKeepsOnlyNeighbourDiscovery(t *testing.T) {
	raw, err := filterFor(protoNDP, 7)
	if err != nil {
		t.Fatal(err)
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	// Skip the two extension checks; jumps are relative, so the rest keeps
	// its meaning.
	vm, err := bpf.NewVM(prog[4:])
	if err != nil {
		t.Fatal(err)
	}
	frame := func(m ndpMsg, edit func([]byte)) []byte {
		b, err := marshalNDP(m)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(b)
		}
		return b
	}
	for _, c := range []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"solicitation", frame(ns(clientMAC, client6, vip6A), nil), true},
		{"advertisement", frame(ndpUnsolicited(ourMAC, vip6A), nil), true},
		{"echo request", frame(ns(clientMAC, client6, vip6A), func(b []byte) { b[offICMPType] = 128 }), false},
		{"router solicitation", frame(ns(clientMAC, client6, vip6A), func(b []byte) { b[offICMPType] = 133 }), false},
		{"hop limit 64", frame(ns(clientMAC, client6, vip6A), func(b []byte) { b[offHopLimit] = 64 }), false},
		{"UDP", frame(ns(clientMAC, client6, vip6A), func(b []byte) { b[offNextHeader] = 17 }), false},
		{"short", []byte{1, 2, 3}, false},
	} {
		n, err := vm.Run(c.frame)
		if err != nil && c.keep {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := n > 0; got != c.keep {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.keep)
		}
	}
	if _, err := filterFor(proto(9), 1); err == nil {
		t.Error("unknown protocol accepted")
	}
}
