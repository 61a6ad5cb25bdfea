package drain

import (
	"fmt"
	"testing"

	"github.com/ironlb/ironlb/config/v1beta1"
	fx "github.com/ironlb/ironlb/ironlbctl/internal/fixture"
)

func TestProgress(t *testing.T) {
	start := []v1beta1.ServiceL2Status{
		fx.L2Status("default", "a", "203.0.113.1", "n1", ""),
		fx.L2Status("default", "b", "203.0.113.2", "n1", ""),
		fx.L2Status("default", "c", "203.0.113.3", "n1", ""),
		fx.L2Status("default", "d", "203.0.113.4", "n2", ""),
	}
	initial := OnNode(start, "n1")
	if len(initial) != 3 {
		t.Fatalf("on n1: %v", initial)
	}
	tests := []struct {
		name            string
		now             []v1beta1.ServiceL2Status
		moved, remained string
	}{
		{"nothing moved yet", start, "[]", "[203.0.113.1 (default/a) 203.0.113.2 (default/b) 203.0.113.3 (default/c)]"},
		{"moved, withdrawn, deleted", []v1beta1.ServiceL2Status{
			fx.L2Status("default", "a", "203.0.113.1", "n2", ""),
			fx.L2Status("default", "b", "203.0.113.2", "", "no eligible node: 1 drained"),
			fx.L2Status("default", "d", "203.0.113.4", "n2", ""),
			fx.L2Status("default", "e", "203.0.113.5", "n1", ""), // arrived meanwhile
		}, "[203.0.113.1 (default/a): n1 -> n2 203.0.113.2 (default/b): n1 -> nobody (no eligible node: 1 drained) 203.0.113.3 (default/c): no longer announced by n1 (status removed)]",
			"[203.0.113.5 (default/e)]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moved, rem := Progress(initial, tt.now, "n1")
			var ms []string
			for _, m := range moved {
				ms = append(ms, m.String())
			}
			if got := fmt.Sprintf("%v", ms); got != tt.moved && !(len(ms) == 0 && tt.moved == "[]") {
				t.Errorf("moved %s\nwant  %s", got, tt.moved)
			}
			if got := fmt.Sprint(rem); got != tt.remained {
				t.Errorf("remaining %s, want %s", got, tt.remained)
			}
		})
	}
}

func TestAdvertising(t *testing.T) {
	got := Advertising([]v1beta1.BGPSessionStatus{
		fx.Session("n1", "tor", "Established", 3), fx.Session("n1", "tor2", "Active", 2),
		fx.Session("n1", "tor3", "Established", 0), fx.Session("n2", "tor", "Established", 3),
	}, "n1")
	if fmt.Sprint(got) != "[BGPSessionStatus n1.tor (3 prefixes)]" {
		t.Fatalf("got %v", got)
	}
}
