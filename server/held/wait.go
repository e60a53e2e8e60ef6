package held

import (
	"context"
	"math/bits"
	"sync/atomic"
	"time"
)

// Script is what a held wait writes: Change when job (its index in Watch's
// list) changed, Fire at each heartbeat, the wait's end and shutdown. Each
// runs under the connection's lock; Change runs on the hub's fan-out and
// must not block (its writes never do), Fire may.
type Script interface {
	Change(job int)
	Fire(e Event)
}

// Event is what fires a held wait's script besides its jobs' changes.
type Event int

const (
	Beat     Event = iota // a heartbeat: the client is still there (Watch checked)
	Deadline              // the wait's end
	Shutdown              // the server stops: the connection will not be served again
)

// Source is one job a held wait watches: it calls f on each change, and
// what f returns once its other deliveries are made (stream.Waiter).
type Source interface {
	OnChange(f func() (after func()))
}

// Watch leaves h's response to its jobs, its clock and shutdown, and returns
// at once: no goroutine is left per wait. serve calls it last. Every job is
// taken as Watch starts, for the changes since its first state was read;
// whoever ends the response releases the wait, once.
func Watch[S Source](h *Conn, s Script, jobs []S, beat time.Duration, quit context.Context) {
	w := &wait{h: h, s: s}
	w.pending.init(len(jobs))
	h.watching = true
	h.mu.Lock()
	w.clock = startClock(h.end, beat, w.tick)
	w.stopQuit = context.AfterFunc(quit, w.quit)
	h.mu.Unlock()
	for i, j := range jobs {
		j.OnChange(func() func() { return w.push(i) })
	}
	w.turn(func() {
		for i := range jobs {
			if !h.Over() {
				s.Change(i)
			}
		}
	})
}

// wait is a watched response's state besides its Conn's.
type wait struct {
	h        *Conn
	s        Script
	clock    *clock
	stopQuit func() bool
	pending  jobSet // jobs changed, not yet taken
	flushing bool   // a goroutine is on its way to write rest; guarded by h.mu
	released bool   // guarded by h.mu
}

// push is a job's OnChange, on the hub's fan-out: it never blocks (without
// a socket to push to, a goroutine takes the change), and returns the
// wait's end if a change ended the response.
func (w *wait) push(job int) (after func()) {
	w.pending.add(job)
	if w.h.raw == nil {
		go w.turn(nil)
		return nil
	}
	return w.drain()
}

// drain takes pending changes, writing without blocking, for as long as it
// finds them and the lock free; it returns the wait's end if it came.
func (w *wait) drain() (after func()) {
	for w.pending.any() && w.h.mu.TryLock() {
		w.h.pushing = true
		w.changes()
		w.h.pushing = false
		if end := w.unlock(); end != nil {
			after = end
		}
	}
	return after
}

// changes runs the script for every pending job, in order, until the
// response is over. Called with h.mu held.
func (w *wait) changes() {
	for i := range w.pending.words {
		for m := w.pending.words[i].Swap(0); m != 0 && !w.h.Over(); m &= m - 1 {
			w.s.Change(i*64 + bits.TrailingZeros64(m))
		}
	}
}

// tick is the clock's function: a heartbeat, or the wait's end.
func (w *wait) tick() {
	w.turn(func() {
		if w.clock.fired() {
			w.s.Fire(Deadline)
		} else if st := peek(w.h.conn, false); st == peekEOF || st == peekFailed {
			w.h.finish(endGone) // the client left: noticed without a reader goroutine
		} else {
			w.s.Fire(Beat)
		}
	})
}

// quit is shutdown's.
func (w *wait) quit() {
	w.turn(func() {
		w.h.keepAlive = false
		w.s.Fire(Shutdown)
	})
}

// turn, in a goroutine that may block, writes what a push left, runs step
// (if any) unless the response has ended, then the changes that came.
func (w *wait) turn(step func()) {
	h := w.h
	h.mu.Lock()
	w.flushing = false
	if h.rest != nil && h.ended != endGone && h.flush() != nil {
		h.finish(endGone)
	}
	if !h.Over() && step != nil {
		step()
	}
	w.changes()
	if end := w.unlock(); end != nil {
		end()
	}
	if end := w.drain(); end != nil { // a change pushed while the lock was held
		end()
	}
}

// unlock lets go of the lock, handing what the socket did not take to a
// goroutine that may block; once the response has ended, it returns letGo,
// once, for the caller to run.
func (w *wait) unlock() (end func()) {
	h := w.h
	flush := h.rest != nil && h.ended != endGone && !w.flushing
	w.flushing = w.flushing || flush
	release := h.Over() && (h.rest == nil || h.ended == endGone) && !w.released
	w.released = w.released || release
	h.mu.Unlock()
	if flush {
		go w.turn(nil)
	}
	if release {
		return w.letGo
	}
	return nil
}

// letGo ends a wait whose response is over. A last response, whole in the
// socket, is closed here at once, before the client's FIN.
func (w *wait) letGo() {
	w.clock.stop()
	w.stopQuit()
	h := w.h
	h.mu.Lock()
	e := h.ended
	h.mu.Unlock()
	switch {
	case e == endGone:
		h.t.release(h, false) // closes at once: never blocks
	case e == endDone && closedAtOnce(h.conn, h.behind):
		h.t.release(h, true)
	default:
		go h.t.release(h, false) // hands back, or drains: may block
	}
}

// clock is a held wait's one timer (time.AfterFunc, so no goroutine between
// fires): every beat, and last at the wait's end. One timer, not a timer and
// a ticker, halves what held waits keep in the runtime's timer heap.
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

// fired reports whether the wait has ended; if not, it arms the next fire.
func (c *clock) fired() (ended bool) {
	if c.ending {
		return true
	}
	c.t.Reset(c.next())
	return false
}

func (c *clock) stop() { c.t.Stop() }

// jobSet is a set of a wait's jobs, by index, changed without a lock: a bit
// each; a wait of up to 64 jobs keeps its one word inline.
type jobSet struct {
	words []atomic.Uint64
	first [1]atomic.Uint64
}

func (s *jobSet) init(n int) {
	if n <= 64 {
		s.words = s.first[:]
		return
	}
	s.words = make([]atomic.Uint64, (n+63)/64)
}

func (s *jobSet) add(job int) { s.words[job/64].Or(1 << (job % 64)) }

func (s *jobSet) any() bool {
	for i := range s.words {
		if s.words[i].Load() != 0 {
			return true
		}
	}
	return false
}
