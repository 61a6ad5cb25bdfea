//go:build !unix

package cputime

import "time"

// Used is unavailable here: always zero.
func Used() time.Duration { return 0 }
