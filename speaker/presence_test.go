package main

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/ironlb/ironlb/pkg/presence"
	"github.com/ironlb/ironlb/speaker/members"
)

// TestPublishedDeadNodes checks what the status writer puts on the
// presence Lease: the nodes the datapath treats as dead (deadNodes), with
// when they died, and nothing once none is.
func TestPublishedDeadNodes(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 40, 1, 0, time.UTC)
	peers := []members.Peer{
		{Name: "node1", State: "alive"},
		{Name: "node2", State: "dead", Since: at},
		{Name: "node3", State: "left", Since: at},
		{Name: "node4", State: "unknown"},
	}
	if got := deadSince(peers); len(got) != 1 || !got["node2"].Equal(at) {
		t.Fatalf("deadSince = %v, want node2 at %v", got, at)
	}
	if got := deadNodes(peers); len(got) != 1 || !got["node2"] {
		t.Fatalf("deadNodes = %v, want node2 (the same set as deadSince)", got)
	}

	var l coordinationv1.Lease
	current := peers
	p := &presenceWriter{dead: func() map[string]time.Time { return deadSince(current) }}
	p.annotate(&l)
	if v := l.Annotations[presence.DeadNodesAnnotation]; v != "node2=2026-12-06T08:40:01.000Z" {
		t.Fatalf("annotation %q", v)
	}
	current = peers[:1]
	p.annotate(&l)
	if v, ok := l.Annotations[presence.DeadNodesAnnotation]; ok {
		t.Fatalf("annotation %q with no node dead, want none", v)
	}
	// Without a datapath nothing is published.
	l.Annotations = map[string]string{presence.DeadNodesAnnotation: "node2=2026-12-06T08:40:01.000Z"}
	(&presenceWriter{}).annotate(&l)
	if v, ok := l.Annotations[presence.DeadNodesAnnotation]; ok {
		t.Fatalf("annotation %q without a datapath, want none", v)
	}
}
