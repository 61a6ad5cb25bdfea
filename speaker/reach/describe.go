package reach

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// Describe turns a connection error into a short text that does not vary
// between attempts (no addresses, ports or durations), so a port that keeps
// failing the same way does not rewrite its status on every probe.
func Describe(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer (timed out)"
	case errors.As(err, &errno):
		return errno.Error()
	}
	return "connection failed"
}
