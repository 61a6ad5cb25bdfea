package vm

import (
	"strings"
	"testing"
	"time"
)

func TestConsoleSentinels(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantExit  int
		wantDone  bool
		wantReady bool
		wantLines int
	}{
		{name: "pass", in: "boot\r\nIRONLB-VM-READY after 1s\r\nok\nIRONLB-VM-EXIT=0\r\n", wantExit: 0, wantDone: true, wantReady: true, wantLines: 4},
		{name: "fail", in: "IRONLB-VM-READY\nIRONLB-VM-EXIT=1\n", wantExit: 1, wantDone: true, wantReady: true, wantLines: 2},
		{name: "crash before ready", in: "Kernel panic - not syncing\n", wantLines: 1},
		{name: "garbled exit", in: "IRONLB-VM-READY\nIRONLB-VM-EXIT=x\n", wantReady: true, wantLines: 2},
		{name: "no trailing newline", in: "IRONLB-VM-READY\nIRONLB-VM-EXIT=3", wantExit: 3, wantDone: true, wantReady: true, wantLines: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sunk []string
			c := &console{start: time.Now().Add(-time.Second), sink: func(l string) { sunk = append(sunk, l) }}
			c.read(strings.NewReader(tc.in))
			if (c.exited > 0) != tc.wantDone || c.exit != tc.wantExit {
				t.Errorf("exited=%v exit=%d, want done=%v exit=%d", c.exited > 0, c.exit, tc.wantDone, tc.wantExit)
			}
			if (c.ready > 0) != tc.wantReady {
				t.Errorf("ready=%v, want %v", c.ready > 0, tc.wantReady)
			}
			if len(c.lines) != tc.wantLines || len(sunk) != tc.wantLines {
				t.Errorf("%d lines (%d sunk), want %d", len(c.lines), len(sunk), tc.wantLines)
			}
			for _, l := range c.lines {
				if strings.ContainsAny(l, "\r\n") {
					t.Errorf("line %q keeps a CR or LF", l)
				}
			}
		})
	}
}
