package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestAfterTerm(t *testing.T) {
	failed := errors.New("cache failed")
	replica := fmt.Errorf("webhook, metrics and probes: %w", errors.New("listen: address in use"))
	lost := fmt.Errorf("term 3 after 1m2s: %w", errLeadershipLost)
	timeout := fmt.Errorf("term 2: %w within 4.8s", errStopTimeout)
	twin := fmt.Errorf("lease renewed by another process: %w", errTwin)
	for _, tc := range []struct {
		name      string
		end       termEnd
		again     bool
		exit      error // nil: clean exit (when !again)
		exitClean bool
	}{
		{name: "lost, work stopped: campaign again", end: termEnd{err: lost}, again: true},
		{name: "lost, work did not stop in time: exit", end: termEnd{err: timeout}, exit: errStopTimeout},
		{name: "signal, work did not stop in time: exit with the error", end: termEnd{err: timeout, stopping: context.Canceled}, exit: errStopTimeout},
		{name: "signal, work stopped: clean exit", end: termEnd{stopping: context.Canceled}, exitClean: true},
		{name: "signal while lost: clean exit, no new campaign", end: termEnd{err: lost, stopping: context.Canceled}, exitClean: true},
		{name: "signal, work failed while stopping: clean exit", end: termEnd{err: failed, stopping: context.Canceled}, exitClean: true},
		{name: "twin found by the guard: exit", end: termEnd{stopping: errTwin}, exit: errTwin},
		{name: "twin while lost: exit, no new campaign", end: termEnd{err: lost, stopping: errTwin}, exit: errTwin},
		{name: "twin error from the term: exit", end: termEnd{err: twin}, exit: errTwin},
		{name: "every-replica manager failed: exit with its error", end: termEnd{err: lost, stopping: replica}, exit: replica},
		{name: "leader-only work failed: exit with its error", end: termEnd{err: failed}, exit: failed},
		{name: "manager not built (API server down): campaign again", end: termEnd{err: fmt.Errorf("term 2: %w: %w", errNotBuilt, failed)}, again: true},
		{name: "signal, manager not built: clean exit", end: termEnd{err: fmt.Errorf("term 2: %w: %w", errNotBuilt, failed), stopping: context.Canceled}, exitClean: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			again, exit := afterTerm(tc.end)
			if again != tc.again {
				t.Fatalf("again = %v, want %v (exit %v)", again, tc.again, exit)
			}
			switch {
			case tc.again || tc.exitClean:
				if exit != nil {
					t.Errorf("exit = %v, want nil", exit)
				}
			case !errors.Is(exit, tc.exit):
				t.Errorf("exit = %v, want %v", exit, tc.exit)
			}
		})
	}
	// A term can only end without an error by a stop: anything else is a
	// bug that must not loop.
	if again, exit := afterTerm(termEnd{}); again || exit == nil {
		t.Errorf("a term that ended with nothing: again %v, exit %v; want an exit with an error", again, exit)
	}
}

func TestStopGrace(t *testing.T) {
	for _, tc := range []struct {
		lease, renew, retry, want time.Duration
		bad                       bool
	}{
		{lease: 15 * time.Second, renew: 10 * time.Second, retry: 200 * time.Millisecond, want: 4800 * time.Millisecond},
		{lease: 2 * time.Second, renew: 1500 * time.Millisecond, retry: 250 * time.Millisecond, want: 250 * time.Millisecond},
		{lease: 2 * time.Second, renew: 1800 * time.Millisecond, retry: 200 * time.Millisecond, bad: true},
		{lease: 10 * time.Second, renew: 10 * time.Second, retry: time.Second, bad: true},
	} {
		got, err := stopGrace(tc.lease, tc.renew, tc.retry)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("stopGrace(%v, %v, %v) = %v, %v; want %v, error %v", tc.lease, tc.renew, tc.retry, got, err, tc.want, tc.bad)
		}
	}
}

func TestAwaitStop(t *testing.T) {
	const long = time.Hour
	closed := make(chan struct{})
	close(closed)
	t.Run("stopped", func(t *testing.T) {
		done := make(chan error, 1)
		done <- errors.New("x")
		if err, ok := awaitStop(done, closed, time.Millisecond, long); !ok || err == nil {
			t.Errorf("got %v, %v; want the work's error, stopped", err, ok)
		}
	})
	t.Run("lost: gives up after the grace", func(t *testing.T) {
		begin := time.Now()
		if _, ok := awaitStop(make(chan error), closed, 50*time.Millisecond, long); ok {
			t.Error("stopped, want given up")
		}
		if took := time.Since(begin); took < 50*time.Millisecond {
			t.Errorf("gave up after %v, before the grace", took)
		}
	})
	t.Run("planned: gives up after the limit", func(t *testing.T) {
		if _, ok := awaitStop(make(chan error), nil, long, 20*time.Millisecond); ok {
			t.Error("stopped, want given up")
		}
	})
	t.Run("lost during a planned stop: the grace counts from the loss", func(t *testing.T) {
		lost := make(chan struct{})
		time.AfterFunc(30*time.Millisecond, func() { close(lost) })
		begin := time.Now()
		if _, ok := awaitStop(make(chan error), lost, 30*time.Millisecond, long); ok {
			t.Error("stopped, want given up")
		}
		if took := time.Since(begin); took < 60*time.Millisecond {
			t.Errorf("gave up after %v, want the loss (30ms) plus the grace (30ms)", took)
		}
	})
}
