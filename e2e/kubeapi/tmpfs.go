package kubeapi

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tmpfsPrefix names the per-server directories under /dev/shm. Each holds
// an "owner" file with the pid of the process that made it, so a later run
// can free the memory of servers whose process was killed before cleanup
// (a test timeout, SIGKILL). Their etcd died with them (Pdeathsig).
const tmpfsPrefix = "ironlb-etcd-"

// newOwnedDir creates base/<prefix>XXXX with an owner file naming this
// process.
func newOwnedDir(base, prefix string) (string, error) {
	d, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", fmt.Errorf("creating dir in %s: %w", base, err)
	}
	if err := os.WriteFile(filepath.Join(d, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(d)
		return "", fmt.Errorf("writing owner of %s: %w", d, err)
	}
	return d, nil
}

// sweepStaleTmpfs removes base/<prefix>* directories whose owner process no
// longer exists. Best effort: anything unreadable is left alone.
func sweepStaleTmpfs(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tmpfsPrefix) {
			continue
		}
		d := filepath.Join(base, e.Name())
		if ownerGone(d) {
			os.RemoveAll(d)
		}
	}
}

func ownerGone(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		return false // being created right now, or not ours
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return false
	}
	_, err = os.Stat(fmt.Sprintf("/proc/%d", pid))
	return os.IsNotExist(err)
}
