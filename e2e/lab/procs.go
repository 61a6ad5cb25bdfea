package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	state, _, ok := parseStat(st)
	return ok && state != 'Z' && state != 'X'
}

// parseStat returns the state and the parent pid of a /proc/PID/stat
// line, "pid (comm) S ppid ...". comm may contain anything, so the fields
// are counted from the last ')'.
func parseStat(st []byte) (state byte, ppid int, ok bool) {
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(st[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], ppid, true
}

func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// isDaemon reports whether pid is the lab daemon of dir: `lab serve
// -state=DIR ...`. Checked before any signal, so a reused pid is never hit.
func isDaemon(pid int, dir stateDir) bool {
	if !alive(pid) {
		return false
	}
	args := cmdline(pid)
	return len(args) > 2 && args[1] == "serve" && slices.Contains(args[2:], "-state="+string(dir))
}

// descendants lists every process below pid (children, their children...).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		if _, ppid, ok := parseStat(st); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// waitGone waits until none of pids is alive and returns those still alive
// at the deadline.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}
