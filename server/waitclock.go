package server

import "time"

// waitClock is a held wait's one timer: it fires every beat (the
// heartbeat: a keepalive, a check that the client is still there) and
// last at the wait's end. One runtime timer per held wait instead of a
// timer and a ticker halves what 18,000 held waits keep in the runtime's
// timer heap, and what each of them allocates.
type waitClock struct {
	t      *time.Timer
	end    time.Time
	beat   time.Duration
	ending bool // armed for end: the next fire is the wait's end
}

// newWaitClock starts a clock for a wait ending at end with a heartbeat
// every beat (beat > 0).
func newWaitClock(end time.Time, beat time.Duration) *waitClock {
	c := &waitClock{end: end, beat: beat}
	c.t = time.NewTimer(c.next())
	return c
}

// next decides what the timer fires for next and returns when.
func (c *waitClock) next() time.Duration {
	d := time.Until(c.end)
	c.ending = d <= c.beat
	if c.ending {
		return d
	}
	return c.beat
}

// C fires at each heartbeat and at the end; call fired after each receive.
func (c *waitClock) C() <-chan time.Time { return c.t.C }

// fired reports, after C fired, whether the wait has ended; if not, this
// was a heartbeat and the clock is armed for the next one (or the end).
func (c *waitClock) fired() (ended bool) {
	if c.ending {
		return true
	}
	c.t.Reset(c.next())
	return false
}

// stop releases the timer.
func (c *waitClock) stop() { c.t.Stop() }
