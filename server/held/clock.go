package held

import "time"

// clock is a held wait's one timer: it fires every beat (the heartbeat) and
// last at the wait's end, each time in a goroutine of its own
// (time.AfterFunc), so that a waiting client costs no goroutine between
// fires. One timer instead of a timer and a ticker halves what 18,000 held
// waits keep in the runtime's timer heap.
type clock struct {
	t      *time.Timer
	end    time.Time
	beat   time.Duration
	ending bool // the next fire is the wait's end
}

// startClock starts a clock for a wait ending at end, beating every beat
// (> 0); f runs at each fire and calls fired.
func startClock(end time.Time, beat time.Duration, f func()) *clock {
	c := &clock{end: end, beat: beat}
	c.t = time.AfterFunc(c.next(), f)
	return c
}

func (c *clock) next() time.Duration {
	d := time.Until(c.end)
	if c.ending = d <= c.beat; c.ending {
		return d
	}
	return c.beat
}

// fired reports, from the clock's function, whether the wait has ended; if
// not, the clock is armed for the next fire.
func (c *clock) fired() (ended bool) {
	if c.ending {
		return true
	}
	c.t.Reset(c.next())
	return false
}

func (c *clock) stop() { c.t.Stop() }
