// Package procstat reads a process's CPU time and memory from /proc, for
// the benchmarks and the soak that measure the real processes.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux architecture Go supports without cgo). So a CPU time
// read this way is exact to 10 ms: measure windows of many changes.
const clockTick = 10 * time.Millisecond

// CPUTime is the CPU time (user and system, all threads) that process pid
// has used, from /proc/PID/stat.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	d, err := parseStatCPU(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return d, nil
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no ')' after the command name in %q", stat)
	}
	// After ")": field 3 (state) onwards.
	f := strings.Fields(stat[end+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want more than %d", len(f), stime)
	}
	var ticks int64
	for _, i := range []int{utime, stime} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %d: %w", i+3, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// Memory is a process's resident set size now (VmRSS) and its peak
// (VmHWM), in bytes, and of RSS now the anonymous part (RssAnon: heap,
// stacks) and the file-backed part (RssFile: mostly the binary's own
// pages, which no change of the program's data structures shrinks).
type Memory struct{ RSS, Peak, Anon, File int64 }

// MiB converts bytes for reporting.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// ReadMemory reads VmRSS, VmHWM, RssAnon and RssFile from /proc/PID/status.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	m, err := parseStatusMemory(string(b))
	if err != nil {
		return Memory{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return m, nil
}

func parseStatusMemory(status string) (Memory, error) {
	var m Memory
	var found int
	for _, line := range strings.Split(status, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || key != "VmRSS" && key != "VmHWM" && key != "RssAnon" && key != "RssFile" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %w", key, err)
		}
		switch key {
		case "VmRSS":
			m.RSS = kb << 10
			found++
		case "VmHWM":
			m.Peak = kb << 10
			found++
		case "RssAnon":
			m.Anon = kb << 10
		case "RssFile":
			m.File = kb << 10
		}
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("VmRSS and VmHWM not both found")
	}
	return m, nil
}
