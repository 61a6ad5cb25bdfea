package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/pkg/memlimit"
)

func TestReachabilityFlags(t *testing.T) {
	t.Setenv(EnvMembersSecret, "0123456789abcdef0123")
	base := []string{"-node-name", "n1"}
	o, err := parseFlags(base)
	if err != nil {
		t.Fatal(err)
	}
	if o.l2Check != 4*time.Second || o.reachCheck != 2*time.Second {
		t.Fatalf("defaults: -l2-answer-check %v, -reachability-check %v", o.l2Check, o.reachCheck)
	}
	o, err = parseFlags(append(base, "-l2-answer-check=0", "-reachability-check=0"))
	if err != nil {
		t.Fatal(err)
	}
	// layer2 reads a negative interval as disabled (0 means its default);
	// the prober is simply not started.
	if o.l2Check >= 0 || o.reachCheck != 0 {
		t.Fatalf("0 must disable: -l2-answer-check %v, -reachability-check %v", o.l2Check, o.reachCheck)
	}
	for _, flag := range []string{"-l2-answer-check", "-reachability-check"} {
		_, err := parseFlags(append(base, flag+"=-1s"))
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s=-1s: error %v, want one naming the flag", flag, err)
		}
	}
}

func TestPprofFlag(t *testing.T) {
	t.Setenv(EnvMembersSecret, "0123456789abcdef0123456789abcdef")
	o, err := parseFlags([]string{"-node-name", "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.pprofAddr != "0" {
		t.Errorf("-pprof-bind-address defaults to %q, want 0 (off)", o.pprofAddr)
	}
	if _, err := parseFlags([]string{"-node-name", "n1", "-pprof-bind-address", ":6060"}); err == nil {
		t.Error("-pprof-bind-address :6060 (every address) was accepted")
	}
	if o, err := parseFlags([]string{"-node-name", "n1", "-pprof-bind-address", "127.0.0.1:6060"}); err != nil || o.pprofAddr != "127.0.0.1:6060" {
		t.Errorf("-pprof-bind-address 127.0.0.1:6060: %q, %v", o.pprofAddr, err)
	}
}

func TestMemoryLimitFlag(t *testing.T) {
	t.Setenv(EnvMembersSecret, "0123456789abcdef0123456789abcdef")
	t.Setenv(memlimit.EnvContainerLimit, "268435456") // as the chart's downward API writes it
	o, err := parseFlags([]string{"-node-name", "n1"})
	if err != nil || o.memoryLimit != 256<<20 {
		t.Errorf("$%s=268435456: limit %d, %v; want %d", memlimit.EnvContainerLimit, o.memoryLimit, err, 256<<20)
	}
	if o, err := parseFlags([]string{"-node-name", "n1", "-memory-limit", "0"}); err != nil || o.memoryLimit != 0 {
		t.Errorf("-memory-limit 0: limit %d, %v; want none", o.memoryLimit, err)
	}
	if _, err := parseFlags([]string{"-node-name", "n1", "-memory-limit", "much"}); err == nil || !strings.Contains(err.Error(), "-memory-limit") {
		t.Errorf("-memory-limit much: error %v, want one naming the flag", err)
	}
}
