package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stateDir is the lab's directory (.cache/lab by default): everything the
// launcher, the daemon and `down` share goes through these files.
type stateDir string

func (d stateDir) path(name string) string { return filepath.Join(string(d), name) }

// Files of the state directory.
func (d stateDir) pidFile() string    { return d.path("lab.pid") }    // the daemon's pid
func (d stateDir) infoFile() string   { return d.path("lab.json") }   // written once the lab is ready
func (d stateDir) progress() string   { return d.path("progress") }   // one line per startup step
func (d stateDir) daemonLog() string  { return d.path("lab.log") }    // the daemon's own output
func (d stateDir) kubeconfig() string { return d.path("kubeconfig") } // admin
func (d stateDir) logDir() string     { return d.path("logs") }       // API server, controller, speakers
// tmpDir is the daemon's TMPDIR: the API server's directory (PKI,
// component kubeconfigs) and FRR's land there, so `down` can remove them
// even after a crash. It is not inside the state directory: FRR's daemons
// run as user frr and need every directory above theirs to be searchable,
// which a state directory under /root or a test's 0700 temp dir is not. The
// name derives from the state directory, so down finds it with no record.
func (d stateDir) tmpDir() string {
	sum := sha256.Sum256([]byte(d))
	return filepath.Join(os.TempDir(), "ironlb-lab-"+hex.EncodeToString(sum[:6]))
}

// tmpRecord holds the path of the daemon's TMPDIR: tmpDir depends on the
// launcher's own TMPDIR (`TMPDIR=/dev/shm make lab LAB=cluster` keeps the
// cluster's files in memory), which a later `make lab-down` may not share.
func (d stateDir) tmpRecord() string { return d.path("tmpdir") }

// tmpDirs are the daemon's TMPDIR as recorded and as this process would
// name it; down removes both.
func (d stateDir) tmpDirs() []string {
	dirs := []string{d.tmpDir()}
	if b, err := os.ReadFile(d.tmpRecord()); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" && p != dirs[0] && strings.HasPrefix(filepath.Base(p), "ironlb-lab-") {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

// info is what the daemon publishes once the lab is ready, for the table
// and for humans.
type info struct {
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	Kind       string    `json:"kind"`    // kindProcess or kindCluster
	LabName    string    `json:"labName"` // namespace prefix "ilb-<pid>-lab"
	APIServer  string    `json:"apiServer"`
	Kubeconfig string    `json:"kubeconfig"`
	Client     host      `json:"client"`
	// Names maps the lab's addresses to the hosts holding them, so the
	// table can say who a pod saw.
	Names map[string]string `json:"names"`
	// Logs is where the cluster's daemons log, besides the state directory.
	Logs string `json:"logs,omitempty"`
	// RouterDir is FRR's directory in the router namespace (BGP mode).
	RouterDir string `json:"routerDir,omitempty"`
}

// host is a namespace of the lab.
type host struct {
	Name  string `json:"name"`
	NetNS string `json:"netns"`
	IPv4  string `json:"ipv4"`
	IPv6  string `json:"ipv6"`
}

func (d stateDir) writeInfo(in info) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(d.infoFile(), b, 0o644)
}

// readInfo returns the published info of a ready lab.
func (d stateDir) readInfo() (info, error) {
	var in info
	b, err := os.ReadFile(d.infoFile())
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, fmt.Errorf("%s: %w", d.infoFile(), err)
	}
	return in, nil
}

// readPID returns the pid in lab.pid, 0 when there is none.
func (d stateDir) readPID() (int, error) {
	b, err := os.ReadFile(d.pidFile())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: bad pid %q", d.pidFile(), b)
	}
	return pid, nil
}

func (d stateDir) writePID(pid int) error {
	return writeAtomic(d.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// daemon returns the pid of the running lab daemon of this directory, or 0.
// A pid file whose process is gone, or is some other program now (pid
// reuse), does not count.
func (d stateDir) daemon() int {
	pid, err := d.readPID()
	if err != nil || pid == 0 || !isDaemon(pid, d) {
		return 0
	}
	return pid
}

// lock takes the directory's lock, so that two `make lab` (or a `make lab`
// and a `make lab-down`) do not interleave. The lock goes with the
// process, also when it is killed.
func (d stateDir) lock() (unlock func(), err error) {
	f, err := os.OpenFile(d.path("lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Printf("lab: waiting for another lab command on %s...\n", d)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
	return func() { f.Close() }, nil
}

// writeAtomic writes a file that readers see either whole or not at all.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
