package members

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testSecret = []byte("0123456789abcdef-test-secret")

// testTo is the recipient of the packets the codec tests make.
const testTo = "b"

// testCodec is a codec with these keys (the first signs).
func testCodec(secrets ...[]byte) *codec {
	k, err := newKeyring(secrets)
	if err != nil {
		panic(err)
	}
	return newCodec(k)
}

func sampleMessage() *message {
	return &message{
		typ: typePing, flags: flagJoining | flagWantState, status: statusAlive,
		seq: 7, time: 123456789, inc: 42, digest: 0xfeedface, alive: 3,
		from: "node-1", meta: []byte{0x02, 0, 0xc6, 0x33, 0x64, 0x0b},
		rumors: []rumor{
			{name: "node-2", status: statusDead, inc: 9},
			{name: "node-3", status: statusAlive, inc: 11, meta: []byte("mac")},
			{name: "node-4", status: statusDead, inc: 0},
			{name: "node-5", status: statusLeft, inc: 1},
		},
	}
}

func encodeOne(t testing.TB, c *codec, m *message) []byte {
	t.Helper()
	pkts := c.encode(m, testTo, func() uint64 { return m.seq })
	if len(pkts) != 1 {
		t.Fatalf("encoded into %d packets, want 1", len(pkts))
	}
	return pkts[0]
}

func TestCodecRoundTrip(t *testing.T) {
	c := testCodec(testSecret)
	for _, m := range []*message{
		sampleMessage(),
		{typ: typeAck, status: statusLeft, seq: 1, inc: 1, from: "x"},
		{typ: typeGossip, flags: flagState, status: statusAlive, seq: 1 << 60, time: -5, inc: 1<<64 - 1, from: strings.Repeat("n", MaxName), meta: bytes.Repeat([]byte{1}, MaxMeta)},
	} {
		pkt := encodeOne(t, c, m)
		got, err := testCodec(testSecret).decode(pkt, testTo)
		if err != nil {
			t.Fatalf("decode %+v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestCodecRejects(t *testing.T) {
	c := testCodec(testSecret)
	good := encodeOne(t, c, sampleMessage())
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		dec  *codec
		want error
	}{
		{"empty", nil, c, errMalformed},
		{"short", good[:minPacket-1], c, errMalformed},
		{"other protocol", append([]byte("HTTP/1.1 200 OK\r\n"), good[17:]...), c, errMalformed},
		{"other version", flip(4), c, errMalformed},
		{"wrong secret", good, testCodec([]byte("another secret of 32 bytes......")), errAuth},
		{"flipped bit in body", flip(30), c, errAuth},
		{"flipped bit in tag", flip(len(good) - 1), c, errAuth},
		{"truncated", good[:len(good)-1], c, errAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.dec.decode(tc.pkt, testTo); !errors.Is(err, tc.want) {
				t.Fatalf("decode: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCodecBindsTheRecipient: a packet is valid only at the node it was
// sent to, so a packet captured on its way to one node cannot be replayed
// at another (whose last sequence number from the sender may be lower).
func TestCodecBindsTheRecipient(t *testing.T) {
	c := testCodec(testSecret)
	pkt := c.encode(sampleMessage(), "node-b", func() uint64 { return 7 })[0]
	for _, tc := range []struct {
		self string
		want error
	}{
		{"node-b", nil},
		{"node-c", errAuth},
		{"node-", errAuth},
		{"node-bb", errAuth},
		{"", errAuth},
	} {
		if _, err := c.decode(pkt, tc.self); !errors.Is(err, tc.want) {
			t.Errorf("decode at %q: %v, want %v", tc.self, err, tc.want)
		}
	}
}

// A body that authenticates but is invalid (a peer of another version, a
// bug) is rejected with an error naming the field.
func TestParseBodyRejectsInvalidFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*message)
		want   string
	}{
		{"type", func(m *message) { m.typ = 9 }, "type 9"},
		{"flags", func(m *message) { m.flags = 0x80 }, "flags"},
		{"sender dead", func(m *message) { m.status = statusDead }, "sender status"},
		{"sender incarnation 0", func(m *message) { m.inc = 0 }, "incarnation 0"},
		{"rumor status", func(m *message) { m.rumors[0].status = 7 }, "rumor 0: status 7"},
		{"alive at incarnation 0", func(m *message) { m.rumors[1].inc = 0 }, "rumor 1: alive at incarnation 0"},
		{"empty name", func(m *message) { m.from = "" }, "name length 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleMessage()
			tc.mutate(m)
			_, err := parseBody(appendBody(nil, m))
			if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseBody: %v, want malformed mentioning %q", err, tc.want)
			}
		})
	}
	m := sampleMessage()
	b := append(appendBody(nil, m), 0)
	if _, err := parseBody(b); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("parseBody with a trailing byte: %v", err)
	}
}

// Messages larger than a packet are split; the continuation packets are
// gossip, so a split ping is acknowledged once, and every rumor arrives.
func TestCodecSplitsLargeMessages(t *testing.T) {
	c := testCodec(testSecret)
	m := sampleMessage()
	m.rumors = nil
	for i := range 200 {
		m.rumors = append(m.rumors, rumor{name: strings.Repeat("x", 40) + string(rune('a'+i%26)) + strings.Repeat("y", i%7), status: statusAlive, inc: uint64(i + 1), meta: bytes.Repeat([]byte{byte(i)}, 30)})
	}
	var seq uint64
	pkts := c.encode(m, testTo, func() uint64 { seq++; return seq })
	if len(pkts) < 2 {
		t.Fatalf("200 rumors fit in %d packet", len(pkts))
	}
	var got []rumor
	for i, p := range pkts {
		if len(p) > maxPacket {
			t.Errorf("packet %d has %d bytes, above %d", i, len(p), maxPacket)
		}
		d, err := c.decode(p, testTo)
		if err != nil {
			t.Fatal(err)
		}
		wantType := typeGossip
		if i == 0 {
			wantType = typePing
		}
		if d.typ != wantType || d.seq != uint64(i+1) || d.from != m.from {
			t.Errorf("packet %d: type %v seq %d from %q", i, d.typ, d.seq, d.from)
		}
		got = append(got, d.rumors...)
	}
	if !reflect.DeepEqual(got, m.rumors) {
		t.Fatalf("rumors differ after split")
	}
}

func seedPackets(c *codec) [][]byte {
	var out [][]byte
	for _, m := range []*message{sampleMessage(), {typ: typeAck, status: statusAlive, seq: 1, inc: 1, from: "b"}} {
		out = append(out, c.encode(m, testTo, func() uint64 { return 1 })...)
	}
	return out
}

// FuzzDecode: garbage never panics the receiver, and whatever passes is
// canonical (re-encodes to the same bytes).
func FuzzDecode(f *testing.F) {
	c := testCodec(testSecret)
	for _, p := range seedPackets(c) {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.decode(b, testTo)
		if err != nil {
			return
		}
		body := appendBody(nil, m)
		if !bytes.Equal(append(body, c.tagWith(0, testTo, body)...), b) {
			t.Fatalf("decoded packet does not re-encode to the same bytes")
		}
	})
}

// FuzzDecodeBody reaches the parser behind the HMAC check, which random
// input cannot pass.
func FuzzDecodeBody(f *testing.F) {
	c := testCodec(testSecret)
	for _, p := range seedPackets(c) {
		f.Add(p[:len(p)-tagLen])
	}
	f.Add([]byte(magic + "\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseBody(b)
		if err != nil {
			return
		}
		if !bytes.Equal(appendBody(nil, m), b) {
			t.Fatalf("parsed body does not re-encode to the same bytes")
		}
	})
}
