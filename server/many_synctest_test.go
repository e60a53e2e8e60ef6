package server

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestWakeSetKeepsTheDeadline runs a many-job wait's select under a fake
// clock: heartbeats come every Heartbeat, the deadline comes once, at the
// deadline, however many beats before it, and shutdown ends it at once.
func TestWakeSetKeepsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Server{cfg: Config{Heartbeat: time.Second}}
		s.quitCtx, s.quitNow = context.WithCancel(context.Background())
		start := time.Now()
		deadline := start.Add(3500 * time.Millisecond)
		w := newWakeSet(s, nil, deadline)
		defer w.stop()
		for i := 1; i <= 3; i++ {
			if got := w.next(); got != wakeBeat {
				t.Fatalf("next() = %d at %v; want the heartbeat", got, time.Since(start))
			}
			if d := time.Since(start); d != time.Duration(i)*time.Second {
				t.Fatalf("heartbeat %d at %v; want %v", i, d, time.Duration(i)*time.Second)
			}
		}
		if got := w.next(); got != wakeDeadline {
			t.Fatalf("next() = %d at %v; want the deadline", got, time.Since(start))
		}
		if !time.Now().Equal(deadline) {
			t.Fatalf("deadline at %v; want %v", time.Since(start), deadline.Sub(start))
		}

		// A deadline already past (a resumed stream's) fires at once.
		past := newWakeSet(s, nil, time.Now().Add(-time.Minute))
		defer past.stop()
		if got := past.next(); got != wakeDeadline || !time.Now().Equal(deadline) {
			t.Fatalf("next() = %d at %v; want the deadline at once", got, time.Since(start))
		}

		s.quitNow()
		if got := w.next(); got != wakeQuit {
			t.Fatalf("next() = %d after shutdown; want wakeQuit", got)
		}
	})
}
