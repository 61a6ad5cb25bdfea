package main

import (
	"strings"
	"testing"
	"time"
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
