package layer2

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

var testTiming = timing{
	gratuitousCount: 3, gratuitousInterval: 50 * time.Millisecond,
	refresh:    30 * time.Second,
	probeCount: 3, probeInterval: 20 * time.Millisecond,
	conflictRetry: 10 * time.Second,
}

// run drives b through tick at every due time up to end and records what
// happens as "t=<ms> <action>" lines; events inject conflicts and
// interface changes at given times.
func run(b binding, tm timing, end time.Time, events map[time.Time]func(binding) binding) (binding, string) {
	var log []string
	now := t0
	for !now.After(end) {
		if ev, ok := events[now]; ok {
			before := b.phase
			b = ev(b)
			if b.phase != before {
				log = append(log, fmt.Sprintf("t=%d %s", now.Sub(t0).Milliseconds(), b.phase))
			}
		}
		nb, act, cleared := b.tick(now, tm)
		if cleared {
			log = append(log, fmt.Sprintf("t=%d cleared", now.Sub(t0).Milliseconds()))
		}
		if nb.phase != b.phase {
			log = append(log, fmt.Sprintf("t=%d %s", now.Sub(t0).Milliseconds(), nb.phase))
		}
		switch act {
		case actProbe:
			log = append(log, fmt.Sprintf("t=%d probe", now.Sub(t0).Milliseconds()))
		case actGratuitous:
			log = append(log, fmt.Sprintf("t=%d gratuitous", now.Sub(t0).Milliseconds()))
		}
		b = nb
		now = now.Add(time.Millisecond)
	}
	return b, strings.Join(log, "\n")
}

var noRetry = timing{gratuitousCount: 1, gratuitousInterval: time.Millisecond, probeCount: 3, probeInterval: time.Millisecond}

func conflictAt(n int, tm timing) func(binding) binding {
	return func(b binding) binding {
		nb, _ := b.conflicted(Conflict{IP: vipA, Interface: "eth0", MAC: rogueMAC, At: ms(n)}, tm)
		return nb
	}
}

func TestBindingSequences(t *testing.T) {
	tests := []struct {
		name   string
		b      binding
		tm     timing
		end    int
		events map[time.Time]func(binding) binding
		want   string
	}{{
		name: "takeover: burst at once, then refresh",
		b:    newBinding(false, t0).start(t0, 0, testTiming),
		end:  30200,
		want: "t=0 gratuitous\nt=50 gratuitous\nt=100 gratuitous\nt=30100 gratuitous",
	}, {
		name: "new IP: three probes after the wait, then the burst",
		b:    newBinding(true, t0).start(t0, 5*time.Millisecond, testTiming),
		end:  200,
		want: "t=5 probe\nt=25 probe\nt=45 probe\nt=65 Announced\nt=65 gratuitous\nt=115 gratuitous\nt=165 gratuitous",
	}, {
		name:   "conflict while probing: silence, then a new probe after the retry interval",
		b:      newBinding(true, t0).start(t0, 0, testTiming),
		end:    10100,
		events: map[time.Time]func(binding) binding{ms(30): conflictAt(30, testTiming)},
		want: "t=0 probe\nt=20 probe\nt=30 Conflict\n" +
			"t=10030 Probing\nt=10030 probe\nt=10050 probe\nt=10070 probe\nt=10090 cleared\nt=10090 Announced\nt=10090 gratuitous",
	}, {
		name: "conflict persists: each probe after a retry interval finds it again",
		b:    newBinding(true, t0).start(t0, 0, testTiming),
		end:  20100,
		events: map[time.Time]func(binding) binding{
			ms(30): conflictAt(30, testTiming), ms(10040): conflictAt(10040, testTiming),
		},
		want: "t=0 probe\nt=20 probe\nt=30 Conflict\nt=10030 Probing\nt=10030 probe\nt=10040 Conflict\n" +
			"t=20040 Probing\nt=20040 probe\nt=20060 probe\nt=20080 probe\nt=20100 cleared\nt=20100 Announced\nt=20100 gratuitous",
	}, {
		name:   "conflict while announced, retry disabled: silent for good",
		b:      newBinding(false, t0).start(t0, 0, testTiming),
		tm:     noRetry,
		end:    60000,
		events: map[time.Time]func(binding) binding{ms(10): conflictAt(10, noRetry)},
		want:   "t=0 gratuitous\nt=10 Conflict",
	}, {
		name: "interface gone and back: announced again at once, no new probe",
		b:    newBinding(true, t0).start(t0, 0, testTiming),
		end:  300,
		events: map[time.Time]func(binding) binding{
			ms(200): func(b binding) binding { return b.stop(ms(200), "interface not found") },
			ms(250): func(b binding) binding { return b.start(ms(250), 0, testTiming) },
		},
		want: "t=0 probe\nt=20 probe\nt=40 probe\nt=60 Announced\nt=60 gratuitous\nt=110 gratuitous\nt=160 gratuitous\n" +
			"t=200 Waiting\nt=250 Announced\nt=250 gratuitous\nt=300 gratuitous",
	}, {
		name: "link back up: a new burst",
		b:    newBinding(false, t0).start(t0, 0, testTiming),
		end:  1200,
		events: map[time.Time]func(binding) binding{
			ms(1000): func(b binding) binding { return b.reburst(ms(1000)) },
		},
		want: "t=0 gratuitous\nt=50 gratuitous\nt=100 gratuitous\nt=1000 gratuitous\nt=1050 gratuitous\nt=1100 gratuitous",
	}, {
		name: "probing disabled: a new IP is announced at once",
		b:    newBinding(true, t0).start(t0, 0, timing{gratuitousCount: 1, probeCount: 0}),
		tm:   timing{gratuitousCount: 1, probeCount: 0},
		end:  100,
		want: "t=0 gratuitous",
	}, {
		name:   "a conflict report while waiting is stale and ignored",
		b:      newBinding(true, t0),
		end:    100,
		events: map[time.Time]func(binding) binding{ms(10): conflictAt(10, testTiming)},
		want:   "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := tt.tm
			if tm == (timing{}) {
				tm = testTiming
			}
			_, got := run(tt.b, tm, ms(tt.end), tt.events)
			if got != tt.want {
				t.Fatalf("sequence:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestBindingConflictNews(t *testing.T) {
	b := newBinding(true, t0).start(t0, 0, testTiming)
	b, news := b.conflicted(Conflict{MAC: rogueMAC, At: ms(1)}, testTiming)
	if !news || b.phase != PhaseConflict || !b.since.Equal(ms(1)) {
		t.Fatalf("first conflict: news=%v phase=%s since=%v", news, b.phase, b.since)
	}
	// The retry probe finds the same host again: not news, same Since.
	b, _, _ = b.tick(ms(1+10000), testTiming)
	if b.phase != PhaseProbing {
		t.Fatalf("after the retry interval: phase %s, want Probing", b.phase)
	}
	b, news = b.conflicted(Conflict{MAC: rogueMAC, At: ms(10002)}, testTiming)
	if news || !b.since.Equal(ms(1)) {
		t.Fatalf("same host again: news=%v since=%v, want no news and the first time", news, b.since)
	}
	b, _, _ = b.tick(ms(20002), testTiming)
	b, news = b.conflicted(Conflict{MAC: friendMAC, At: ms(20003)}, testTiming)
	if !news {
		t.Fatal("another host: want news")
	}
}

func TestBindingAnswerCheck(t *testing.T) {
	tm := testTiming
	tm.answerCheck = 4 * time.Second
	announced := newBinding(false, t0).start(t0, 0, tm)
	scheduled, _ := announced.check(ms(0), 500*time.Millisecond, tm)
	tests := []struct {
		name     string
		b        binding
		tm       timing
		now      time.Time
		jitter   time.Duration
		wantDue  bool
		wantNext time.Time
	}{
		{"first call schedules one interval plus jitter after", announced, tm, ms(0), 500 * time.Millisecond, false, ms(4500)},
		{"not yet due", scheduled, tm, ms(4499), time.Second, false, ms(4500)},
		{"due: probe and schedule the next", scheduled, tm, ms(4500), 200 * time.Millisecond, true, ms(8700)},
		{"late: due, next counted from now", scheduled, tm, ms(9000), 0, true, ms(13000)},
		{"disabled", announced, testTiming, ms(5000), 0, false, time.Time{}},
		{"probing: no check", newBinding(true, t0).start(t0, 0, tm), tm, ms(5000), 0, false, time.Time{}},
		{"conflict cancels the schedule", func() binding {
			b, _ := scheduled.conflicted(Conflict{MAC: rogueMAC, At: ms(10)}, tm)
			return b
		}(), tm, ms(5000), 0, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, due := tt.b.check(tt.now, tt.jitter, tt.tm)
			if due != tt.wantDue || !got.nextCheck.Equal(tt.wantNext) {
				t.Fatalf("due %v next %v, want due %v next %v", due, got.nextCheck, tt.wantDue, tt.wantNext)
			}
		})
	}
}

func TestAnswerPeriod(t *testing.T) {
	for _, tt := range []struct {
		every time.Duration
		n     int
		want  time.Duration
	}{
		{4 * time.Second, 1, 4 * time.Second},
		{4 * time.Second, 800, 4 * time.Second},
		{4 * time.Second, 1000, 5 * time.Second},
		{4 * time.Second, 10000, 50 * time.Second},
		{0, 10000, 0},
	} {
		if got := answerPeriod(tt.every, tt.n); got != tt.want {
			t.Errorf("answerPeriod(%v, %d) = %v, want %v", tt.every, tt.n, got, tt.want)
		}
	}
}
