package main

import "testing"

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
