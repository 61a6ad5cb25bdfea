package vlan

import (
	"net/netip"
	"slices"
	"time"
)

// Answers are the frames of a capture that answer for ip on the wire: ARP
// replies (answers and gratuitous) for an IPv4 address, neighbour
// advertisements (solicited and unsolicited) for an IPv6 one.
func Answers(frames []Frame, ip netip.Addr) []Frame {
	var out []Frame
	for _, f := range frames {
		if (f.IsARPReply() && f.ARP.SenderIP == ip) || (f.IsNA() && f.ICMPv6.Target == ip) {
			out = append(out, f)
		}
	}
	return out
}

// Span is a period in which one MAC kept answering for an address.
type Span struct {
	MAC        string
	Start, End time.Time
}

// AnsweringSpans merges each MAC's answers less than gap apart into spans,
// ordered by start.
func AnsweringSpans(answers []Frame, gap time.Duration) []Span {
	byMAC := map[string][]time.Time{}
	for _, f := range answers {
		byMAC[f.Src.String()] = append(byMAC[f.Src.String()], f.Time)
	}
	var out []Span
	for mac, ts := range byMAC {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		cur := Span{MAC: mac, Start: ts[0], End: ts[0]}
		for _, t := range ts[1:] {
			if t.Sub(cur.End) > gap {
				out = append(out, cur)
				cur = Span{MAC: mac, Start: t, End: t}
				continue
			}
			cur.End = t
		}
		out = append(out, cur)
	}
	slices.SortFunc(out, func(a, b Span) int { return a.Start.Compare(b.Start) })
	return out
}

// LongestOverlap is the longest time two different MACs were both
// answering, and when it started.
func LongestOverlap(spans []Span) (time.Duration, time.Time) {
	var longest time.Duration
	var at time.Time
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.MAC == b.MAC {
				continue
			}
			start, end := later(a.Start, b.Start), earlier(a.End, b.End)
			if d := end.Sub(start); d > longest {
				longest, at = d, start
			}
		}
	}
	return longest, at
}

// Moves counts how often the answering MAC changed from one span to the
// next (spans ordered by start, as AnsweringSpans returns them): the
// hand-overs the wire saw.
func Moves(spans []Span) int {
	n := 0
	for i := 1; i < len(spans); i++ {
		if spans[i].MAC != spans[i-1].MAC {
			n++
		}
	}
	return n
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
