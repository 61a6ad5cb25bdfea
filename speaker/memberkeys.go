package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ironlb/ironlb/speaker/members"
)

// keyPollInterval is how often the liveness key file is re-read. A mounted
// Secret changes on the node a kubelet sync period after the API object
// (about a minute), so a second is plenty.
const keyPollInterval = time.Second

// parseMemberKeys splits the liveness key material into keys: one per line
// (or any whitespace), the first signs, all are accepted. One key alone is
// the ordinary case; two are a rotation in progress.
func parseMemberKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for i, f := range strings.Fields(text) {
		if len(f) < members.MinSecret {
			return nil, fmt.Errorf("key %d: %d bytes, need at least %d", i+1, len(f), members.MinSecret)
		}
		keys = append(keys, []byte(f))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key: need at least one of %d bytes or more", members.MinSecret)
	}
	return keys, nil
}

// watchMemberKeys re-reads the key file until ctx ends and hands a changed,
// valid key list to the liveness layer. A file that cannot be read or holds
// no valid key leaves the keys in force (and is logged once per content).
func watchMemberKeys(ctx context.Context, path string, mem *members.Members, log *slog.Logger) error {
	last, _ := os.ReadFile(path)
	var lastErr string
	t := time.NewTicker(keyPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Equal(b, last) {
			continue
		}
		if err == nil {
			var keys [][]byte
			if keys, err = parseMemberKeys(string(b)); err == nil {
				err = mem.SetSecrets(keys)
			}
		}
		if err != nil {
			if err.Error() != lastErr {
				log.Warn("liveness keys not reloaded, the previous ones stay in force", "file", path, "error", err.Error())
				lastErr = err.Error()
			}
			continue
		}
		last, lastErr = b, ""
	}
}
