package members

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// Wire format, version 2, big endian:
//
//	 0  magic "ILBM"
//	 4  version (2)
//	 5  type (1 ping, 2 ack, 3 gossip)
//	 6  flags
//	 7  sender status (1 alive, 3 left)
//	 8  seq         uint64
//	16  time        int64
//	24  incarnation uint64 (never 0)
//	32  digest      uint64
//	40  alive count uint16
//	42  name: length uint8 (1..253), bytes
//	    meta: length uint16 (0..MaxMeta), bytes
//	    rumor count uint16, then per rumor:
//	        status uint8, incarnation uint64, name (as above), meta (as above)
//	end tag: HMAC-SHA256, truncated to 16 bytes, over the recipient's name
//	         (length uint8, bytes; not sent) and everything before the tag
//
// Binding the recipient into the tag makes a packet valid at the one node
// it was sent to: a host on the LAN cannot replay a packet A sent to B at
// C, where A's sequence number may well be above the last C saw from A
// (version 1 allowed that). Replays at the recipient itself are caught by
// the per-sender (incarnation, sequence) order in receive.go.
//
// The encoding is canonical: a packet that decodes re-encodes to the same
// bytes (the fuzz tests check this).
const (
	magic       = "ILBM"
	wireVersion = 2
	tagLen      = 16
	fixedLen    = 42
	minPacket   = fixedLen + 1 + 1 + 2 + 2 + tagLen

	// MaxName is the longest node name (a Kubernetes object name).
	MaxName = 253
	// MaxMeta is the largest payload SetMeta accepts.
	MaxMeta = 256

	// maxPacket keeps a packet inside one Ethernet frame with IPv6 and
	// UDP headers (1500 - 40 - 8), with room to spare for tunnels. A
	// message whose rumors do not fit is split into several packets.
	maxPacket = 1400
	// maxRead is the receive buffer: the largest UDP payload.
	maxRead = 65535
)

// Decoding errors; they label the rejected-packets metric.
var (
	errMalformed = errors.New("malformed packet")
	errAuth      = errors.New("authentication failed")
)

// codec signs and verifies packets. It is not safe for concurrent use: the
// sender and the receiver each have their own. Both follow the keyring the
// Members holds: a rotation takes effect on the next packet.
type codec struct {
	keys *keyring
	macs []hash.Hash // one per key of keys; macs[0] signs
	sum  []byte
	to   []byte // scratch: the recipient's name as the tag covers it
}

func newCodec(keys *keyring) *codec {
	c := &codec{}
	c.use(keys)
	return c
}

// use switches to keys if they are not the ones in use.
func (c *codec) use(keys *keyring) {
	if keys != c.keys {
		c.keys, c.macs = keys, keys.macs()
	}
}

// tagWith is the tag of a packet body for recipient to, with key i.
func (c *codec) tagWith(i int, to string, body []byte) []byte {
	mac := c.macs[i]
	mac.Reset()
	c.to = append(append(c.to[:0], byte(len(to))), to...)
	mac.Write(c.to)
	mac.Write(body)
	c.sum = mac.Sum(c.sum[:0])
	return c.sum[:tagLen]
}

func rumorLen(r *rumor) int { return 1 + 8 + 1 + len(r.name) + 2 + len(r.meta) }

func headerLen(m *message) int { return fixedLen + 1 + len(m.from) + 2 + len(m.meta) + 2 }

// encode turns m into one or more packets signed for recipient to; seq
// numbers each packet.
// Packets after the first carry only rumors and are gossip, so a ping split
// in two is still acknowledged once. The caller guarantees name and meta
// lengths (New, SetMeta and SetPeers check them).
func (c *codec) encode(m *message, to string, seq func() uint64) [][]byte {
	var chunks [][]rumor
	room := maxPacket - tagLen - headerLen(m)
	var cur []rumor
	used := 0
	for _, r := range m.rumors {
		n := rumorLen(&r)
		if len(cur) > 0 && used+n > room {
			chunks = append(chunks, cur)
			cur, used = nil, 0
		}
		cur = append(cur, r)
		used += n
	}
	chunks = append(chunks, cur)
	out := make([][]byte, 0, len(chunks))
	for i, rs := range chunks {
		part := *m
		part.rumors = rs
		if i > 0 {
			part.typ = typeGossip
		}
		part.seq = seq()
		body := appendBody(make([]byte, 0, maxPacket), &part)
		out = append(out, append(body, c.tagWith(0, to, body)...))
	}
	return out
}

// appendBody appends m's unsigned encoding to b.
func appendBody(b []byte, m *message) []byte {
	b = append(b, magic...)
	b = append(b, wireVersion, byte(m.typ), m.flags, byte(m.status))
	b = binary.BigEndian.AppendUint64(b, m.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.time))
	b = binary.BigEndian.AppendUint64(b, m.inc)
	b = binary.BigEndian.AppendUint64(b, m.digest)
	b = binary.BigEndian.AppendUint16(b, m.alive)
	b = appendName(b, m.from)
	b = appendMeta(b, m.meta)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.rumors)))
	for _, r := range m.rumors {
		b = append(b, byte(r.status))
		b = binary.BigEndian.AppendUint64(b, r.inc)
		b = appendName(b, r.name)
		b = appendMeta(b, r.meta)
	}
	return b
}

func appendName(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }

func appendMeta(b []byte, meta []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(meta))), meta...)
}

// decode verifies and parses one packet received by the node named self.
// It never panics, whatever b holds.
func (c *codec) decode(b []byte, self string) (*message, error) {
	if len(b) < minPacket || string(b[:4]) != magic {
		return nil, fmt.Errorf("%w: not a members packet (%d bytes)", errMalformed, len(b))
	}
	if b[4] != wireVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errMalformed, b[4], wireVersion)
	}
	body, tag := b[:len(b)-tagLen], b[len(b)-tagLen:]
	for i := range c.macs {
		if hmac.Equal(c.tagWith(i, self, body), tag) {
			return parseBody(body)
		}
	}
	return nil, errAuth
}

// parseBody parses an unsigned packet body (magic included).
func parseBody(b []byte) (*message, error) {
	r := reader{b: b}
	if string(r.bytes(4)) != magic || r.u8() != wireVersion {
		return nil, fmt.Errorf("%w: bad magic or version", errMalformed)
	}
	m := &message{typ: msgType(r.u8()), flags: r.u8(), status: status(r.u8())}
	m.seq = r.u64()
	m.time = int64(r.u64())
	m.inc = r.u64()
	m.digest = r.u64()
	m.alive = r.u16()
	m.from = r.name()
	m.meta = r.meta()
	n := int(r.u16())
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case m.typ < typePing || m.typ > typeGossip:
		return nil, fmt.Errorf("%w: type %d", errMalformed, m.typ)
	case m.flags&^knownFlags != 0:
		return nil, fmt.Errorf("%w: flags %#x", errMalformed, m.flags)
	case m.status != statusAlive && m.status != statusLeft:
		return nil, fmt.Errorf("%w: sender status %d", errMalformed, m.status)
	case m.inc == 0:
		return nil, fmt.Errorf("%w: sender incarnation 0", errMalformed)
	case n > (len(b)-r.off)/(1+8+1+1+2):
		return nil, fmt.Errorf("%w: %d rumors cannot fit", errMalformed, n)
	}
	if n > 0 {
		m.rumors = make([]rumor, n)
	}
	for i := range m.rumors {
		ru := &m.rumors[i]
		ru.status = status(r.u8())
		ru.inc = r.u64()
		ru.name = r.name()
		ru.meta = r.meta()
		if r.err != nil {
			return nil, r.err
		}
		if ru.status < statusAlive || ru.status > statusLeft {
			return nil, fmt.Errorf("%w: rumor %d: status %d", errMalformed, i, ru.status)
		}
		if ru.inc == 0 && ru.status != statusDead {
			return nil, fmt.Errorf("%w: rumor %d: %s at incarnation 0", errMalformed, i, ru.status)
		}
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errMalformed, len(b)-r.off)
	}
	return m, nil
}

// reader reads big-endian fields; after the first short read every read
// returns zero and err says why.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.off {
		r.err = fmt.Errorf("%w: truncated at byte %d", errMalformed, r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8() byte {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) name() string {
	n := int(r.u8())
	if r.err == nil && (n == 0 || n > MaxName) {
		r.err = fmt.Errorf("%w: name length %d at byte %d", errMalformed, n, r.off-1)
		return ""
	}
	return string(r.bytes(n))
}

func (r *reader) meta() []byte {
	n := int(r.u16())
	if r.err == nil && n > MaxMeta {
		r.err = fmt.Errorf("%w: meta length %d at byte %d", errMalformed, n, r.off-2)
		return nil
	}
	v := r.bytes(n)
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}
