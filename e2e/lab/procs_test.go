package main

import (
	"os"
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat  string
		state byte
		ppid  int
		ok    bool
	}{
		{"1234 (speaker) S 99 1234 1234 0 -1", 'S', 99, true},
		{"1234 (a) (b) Z 7 1 1", 'Z', 7, true},
		{"1234 (we ird)) R 1 2 3", 'R', 1, true},
		{"1234 speaker S 99", 0, 0, false},
		{"1234 (x) S notanumber", 0, 0, false},
		{"1234 (x)", 0, 0, false},
	}
	for _, tt := range tests {
		state, ppid, ok := parseStat([]byte(tt.stat))
		if state != tt.state || ppid != tt.ppid || ok != tt.ok {
			t.Errorf("parseStat(%q) = %c %d %v, want %c %d %v", tt.stat, state, ppid, ok, tt.state, tt.ppid, tt.ok)
		}
	}
}

func TestProcessHelpersSeeThisProcess(t *testing.T) {
	if !alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	if !slices.Contains(descendants(os.Getppid()), os.Getpid()) {
		t.Fatal("this process is not below its parent")
	}
	if isDaemon(os.Getpid(), stateDir(t.TempDir())) {
		t.Fatal("a test binary taken for the lab daemon")
	}
}
