package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		err        bool
	}{
		{"plain", "42 (speaker) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 12 0", 281 * clockTick, false},
		{"spaces and parens in the name", "42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0", 10 * clockTick, false},
		{"too short", "42 (x) S 1 2 3", 0, true},
		{"no name", "42 x S", 0, true},
		{"not a number", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 a 3 0 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("parseStatCPU = %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	got, err := parseStatusMemory("Name:\tspeaker\nVmPeak:\t 9000 kB\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\nRssAnon:\t    768 kB\nRssFile:\t    256 kB\nThreads:\t9\n")
	if err != nil || got != (Memory{RSS: 1 << 20, Peak: 2 << 20, Anon: 768 << 10, File: 256 << 10}) {
		t.Errorf("parseStatusMemory = %+v, %v", got, err)
	}
	if _, err := parseStatusMemory("VmRSS:\t1 kB\n"); err == nil {
		t.Error("no VmHWM: want an error")
	}
}

// The readers work on a live process: this one has used CPU and memory.
func TestReadSelf(t *testing.T) {
	cpu, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS || m.Anon <= 0 || m.File <= 0 || m.Anon+m.File > m.RSS || cpu < 0 {
		t.Errorf("cpu %v, memory %+v", cpu, m)
	}
}
