package presence

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// DeadNodesAnnotation, on the speakers' presence Lease, lists the nodes
// whose speaker the liveness protocol holds dead, as the status writer
// sees them, with when each was declared dead:
//
//	ironlb.io/dead-nodes: "node2=2026-12-06T08:40:01.123Z,node3=..."
//
// Every speaker's datapath sets aside the endpoints on these nodes (see
// datapath.Inputs.DeadNodes); the annotation lets an operator (kubectl get
// lease -n ironlb-system ironlb-speakers -o yaml) and ironlbctl see the
// same set. It is rewritten with every renewal of the Lease, so it costs
// no write of its own, and it is as fresh as the Lease: once the Lease is
// no longer renewed (no speaker left) it says what the last writer saw.
const DeadNodesAnnotation = "ironlb.io/dead-nodes"

// FormatDeadNodes renders the annotation's value: "" for none, else
// name=time pairs sorted by name, times in UTC RFC 3339 with milliseconds.
func FormatDeadNodes(dead map[string]time.Time) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(dead)) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(dead[n].UTC().Format(timeFormat))
	}
	return b.String()
}

// timeFormat is RFC 3339 with milliseconds: deaths are detected in a
// quarter of a second.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// ParseDeadNodes reads the annotation's value. An error names the
// annotation and the entry at fault.
func ParseDeadNodes(v string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for i, entry := range strings.Split(v, ",") {
		name, at, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("annotation %s, entry %d %q: want NODE=TIME", DeadNodesAnnotation, i, entry)
		}
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return nil, fmt.Errorf("annotation %s, entry %d %q: time: %w", DeadNodesAnnotation, i, entry, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("annotation %s, entry %d: node %q listed twice", DeadNodesAnnotation, i, name)
		}
		out[name] = t
	}
	return out, nil
}
