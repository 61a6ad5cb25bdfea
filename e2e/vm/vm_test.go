//go:build !vmguest

package vm

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestRunTestsInVM boots the real VM once: the smoke test must pass and the
// test told to fail must fail, and the run must report that (exit code 1).
func TestRunTestsInVM(t *testing.T) {
	res, err := run(context.Background(), t, Options{
		Package: modulePath + "/e2e/vm",
		Run:     "^TestGuest",
		Args:    []string{"-vm.fail-on-purpose"},
		Timeout: 3 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 1 {
		t.Errorf("exit code %d, want 1 (one guest test fails on purpose)", res.ExitCode)
	}
	for _, want := range []string{"--- PASS: TestGuestSmoke", "--- FAIL: TestGuestFailOnPurpose"} {
		if !slices.ContainsFunc(res.Output, func(l string) bool { return len(l) >= len(want) && l[:len(want)] == want }) {
			t.Errorf("console lacks %q", want)
		}
	}
	if res.Boot <= 0 || res.Tests <= 0 {
		t.Errorf("boot %s, tests %s: both should be measured", res.Boot, res.Tests)
	}
	t.Logf("build %s, boot %s, tests %s, total %s", res.Build, res.Boot, res.Tests, res.Total)
}
