package main

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// completions records, for each job, when its completion was first tried
// and when a try was acknowledged. A write that fails at the producer may
// still have been applied (sent to a stopped Redis that resumes, or to a
// primary being failed over), so from its first try on a job may complete
// at any moment.
type completions struct {
	mu           sync.Mutex
	tried, acked map[string]time.Time
}

func newCompletions() *completions {
	return &completions{tried: map[string]time.Time{}, acked: map[string]time.Time{}}
}

// try records a try of job id's completion by write, and its
// acknowledgement when write succeeds.
func (c *completions) try(id string, write func() error) error {
	c.mu.Lock()
	if _, ok := c.tried[id]; !ok {
		c.tried[id] = time.Now()
	}
	c.mu.Unlock()
	err := write()
	if err == nil {
		c.mu.Lock()
		c.acked[id] = time.Now()
		c.mu.Unlock()
	}
	return err
}

// acknowledged reports whether a completion of job id was acknowledged.
func (c *completions) acknowledged(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.acked[id]
	return ok
}

// judgeMargin is the time before a wait's deadline within which an
// acknowledged completion may or may not reach it (the re-read).
const judgeMargin = 250 * time.Millisecond

// judge checks every wait against its job's completion and returns how
// many fell in each case. A waiter's own deadline is one budget after
// jobwait admitted it, which is after the client started it. A completion
// acknowledged before that deadline less judgeMargin must reach the wait;
// one not even tried before the wait ended cannot; one in between may or
// may not. No wait lasts budget + slack.
func (c *completions) judge(t *testing.T, done []outcome, budget, slack time.Duration) (results, timeouts, either int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range done {
		at, acked := c.acked[o.job]
		tried, sent := c.tried[o.job]
		deadline := o.started.Add(budget)
		switch {
		case acked && at.Before(deadline.Add(-judgeMargin)):
			results++
			assert.True(t, o.completed(), "completed %v before its deadline: %v", deadline.Sub(at).Round(time.Millisecond), o)
		case !sent || tried.After(o.ended):
			timeouts++
			assert.True(t, o.timedOutWaiting(), "never completed while waiting: %v", o)
		default:
			either++
			assert.True(t, o.completed() || o.timedOutWaiting(), "completed at its deadline or tried while waiting: %v", o)
		}
		assert.Less(t, o.ended.Sub(o.started), budget+slack, "%v", o)
	}
	t.Logf("%d waits: %d completed in time, %d never, %d at their deadline or tried while waiting", len(done), results, timeouts, either)
	return results, timeouts, either
}
