package held

import "time"

// clock is a held wait's one timer: it fires every beat (the
// heartbeat: a keepalive, a check that the client is still there) and
// last at the wait's end, each time calling its function in a goroutine of
// its own (time.AfterFunc), so that a waiting client costs no goroutine
// between fires. One runtime timer per held wait instead of a timer and a
// ticker halves what 18,000 held waits keep in the runtime's timer heap.
type clock struct {
	t      *time.Timer
	end    time.Time
	beat   time.Duration
	ending bool // armed for end: the next fire is the wait's end
}

// startClock starts a clock for a wait ending at end with a heartbeat
// every beat (beat > 0); f runs at each fire, and calls fired.
func startClock(end time.Time, beat time.Duration, f func()) *clock {
	c := &clock{end: end, beat: beat}
	c.t = time.AfterFunc(c.next(), f)
	return c
}

// next decides what the timer fires for next and returns when.
func (c *clock) next() time.Duration {
	d := time.Until(c.end)
	c.ending = d <= c.beat
	if c.ending {
		return d
	}
	return c.beat
}

// fired reports, from the clock's function, whether the wait has ended; if
// not, this was a heartbeat and the clock is armed for the next one (or
// the end).
func (c *clock) fired() (ended bool) {
	if c.ending {
		return true
	}
	c.t.Reset(c.next())
	return false
}

// stop stops the clock; its function may still be running.
func (c *clock) stop() { c.t.Stop() }
