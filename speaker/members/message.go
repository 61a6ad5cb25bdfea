package members

import "net/netip"

// status is a member's state as one node sees it. The numeric order is the
// precedence at equal incarnation: a "dead" verdict overrides "alive" at the
// same incarnation (so a stale heartbeat cannot resurrect a node declared
// dead), and "left" overrides both.
type status uint8

const (
	statusAlive status = 1
	statusDead  status = 2 // also "never heard of" when the incarnation is 0
	statusLeft  status = 3
)

func (s status) String() string {
	switch s {
	case statusAlive:
		return "alive"
	case statusDead:
		return "dead"
	case statusLeft:
		return "left"
	}
	return "invalid"
}

// newer reports whether state (inc1, s1) supersedes (inc2, s2). Only the
// member itself raises its incarnation, so a higher incarnation is always
// newer news; at equal incarnation the status order decides.
func newer(inc1 uint64, s1 status, inc2 uint64, s2 status) bool {
	if inc1 != inc2 {
		return inc1 > inc2
	}
	return s1 > s2
}

// msgType is the kind of packet.
type msgType uint8

const (
	typePing   msgType = 1 // answered with an ack
	typeAck    msgType = 2
	typeGossip msgType = 3 // one-way: broadcasts, notices, state pushes
)

func (t msgType) String() string {
	switch t {
	case typePing:
		return "ping"
	case typeAck:
		return "ack"
	case typeGossip:
		return "gossip"
	}
	return "invalid"
}

// Message flags.
const (
	// flagJoining: the sender is (re)learning the cluster; its view and
	// digest mean nothing yet.
	flagJoining uint8 = 1 << iota
	// flagWantState: a joining node asks the receiver for its view of the
	// members that are not alive (in the ack).
	flagWantState
	// flagState: the rumors are the sender's view, sent on request; a
	// joining receiver may treat the members they name as settled.
	flagState

	knownFlags = flagJoining | flagWantState | flagState
)

// rumor is one member's state as the sender knows it.
type rumor struct {
	name   string
	status status
	inc    uint64
	meta   []byte // only for alive members
}

// message is one decoded packet. The header describes the sender itself
// (a rumor about itself heard first hand); rumors describe others.
type message struct {
	typ    msgType
	flags  uint8
	status status // the sender's own status: alive or left
	seq    uint64 // per-sender packet counter, for replay protection
	time   int64  // ping: sender's clock in ns; ack: the ping's time, echoed
	inc    uint64 // the sender's incarnation
	digest uint64 // hash of the sender's whole view (anti-entropy)
	alive  uint16 // how many members the sender sees alive, itself included
	from   string
	meta   []byte
	rumors []rumor
}

// envelope is a message the state machine wants sent.
type envelope struct {
	to     netip.AddrPort
	toName string // the recipient, whose name the packet's tag covers
	msg    *message
}
