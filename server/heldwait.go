package server

import (
	"context"
	"sync/atomic"
	"time"

	"jobwait/stream"
)

// heldWait is a one-job long poll or stream once its first answer or event
// is written: a wait with no goroutine of its own. Three things move it,
// each under its connection's lock (heldConn.mu):
//
//   - a change of the job: the hub's fan-out calls push (the waiter's
//     OnChange), which writes what the change calls for at once, in writes
//     that never block (see heldConn). When the lock is taken (a heartbeat
//     is being written), push marks the change pending and returns: the
//     holder takes it before it lets go.
//   - its clock (waitClock): each heartbeat and the wait's end run in a
//     goroutine of the timer's own, which may block on a write.
//   - shutdown: the server's quit context runs quit in a goroutine of its
//     own (context.AfterFunc).
//
// A goroutine is borrowed, besides, only to write what the socket did not
// take at once (rest) by the response's deadline, and, once the response
// has ended, to hand the connection back or close it gracefully (release).
// Whoever ends the response (heldConn.finish) releases the wait, once
// (letGo; after the other deliveries of the same fan-out when a change
// ended it): its clock and quit hook stop, and holds releases its hold.
type heldWait struct {
	h *heldConn
	w *stream.Waiter[*Answer]

	// change writes what the job's newest state calls for; fire is the
	// clock's (a heartbeat, or the wait's end when ended); stop ends the
	// wait for shutdown. Each runs with h.mu held; change never blocks
	// when h.pushing, fire and stop may.
	change func()
	fire   func(ended bool)
	stop   func()

	clock    *waitClock
	stopQuit func() bool
	pending  atomic.Bool // a change not yet taken (see push)
	flushing bool        // a goroutine is on its way to write rest; guarded by h.mu
	released bool        // guarded by h.mu
}

// start makes the wait move on its own: its clock runs, shutdown reaches
// it, and every change of the job (one since Watch included) is written.
// It runs in the goroutine that wrote the first answer or event, which
// returns endHeld then.
func (hw *heldWait) start(end time.Time, beat time.Duration, quit context.Context) {
	hw.h.mu.Lock()
	hw.clock = startWaitClock(end, beat, hw.tick)
	hw.stopQuit = context.AfterFunc(quit, hw.quit)
	hw.h.mu.Unlock()
	hw.w.OnChange(hw.push)
	// A change since Watch signalled C, which nobody reads.
	if after := hw.push(); after != nil {
		after()
	}
}

// push is the waiter's OnChange, run by the hub's fan-out: it takes the
// change at once if it can take the lock, and never blocks. Where writes
// cannot be made without blocking (no socket), a goroutine takes it. When
// the change ended the response, it returns the wait's end (letGo), for
// the fan-out to run after its other deliveries.
func (hw *heldWait) push() (after func()) {
	hw.pending.Store(true)
	if hw.h.raw == nil {
		go hw.turn(nil)
		return nil
	}
	return hw.drain()
}

// drain takes pending changes, writing without blocking, for as long as it
// finds them and the lock free; it returns the wait's end if it came.
func (hw *heldWait) drain() (after func()) {
	h := hw.h
	for hw.pending.Load() && h.mu.TryLock() {
		if hw.pending.Swap(false) && !h.over {
			h.pushing = true
			hw.change()
			h.pushing = false
		}
		if end := hw.unlock(); end != nil {
			after = end
		}
	}
	return after
}

// tick is the clock's function.
func (hw *heldWait) tick() {
	hw.turn(func() { hw.fire(hw.clock.fired()) })
}

// quit is shutdown's.
func (hw *heldWait) quit() { hw.turn(hw.stop) }

// turn runs step (if not nil) in a goroutine that may block: after
// writing what a push left in rest (unless the client is gone), unless
// the response has ended; then a change that came meanwhile.
func (hw *heldWait) turn(step func()) {
	h := hw.h
	h.mu.Lock()
	hw.flushing = false
	if h.rest != nil && h.ended != endGone && h.flush() != nil {
		h.finish(endGone)
	}
	if !h.over && step != nil {
		step()
	}
	if hw.pending.Swap(false) && !h.over {
		hw.change()
	}
	if end := hw.unlock(); end != nil {
		end()
	}
	if end := hw.drain(); end != nil { // a change pushed while the lock was held
		end()
	}
}

// unlock lets go of the lock, handing on what the turn left: a write the
// socket did not take at once, to a goroutine that may block. Once the
// response has ended, it returns the wait's end (letGo), once, for the
// caller to run.
func (hw *heldWait) unlock() (end func()) {
	h := hw.h
	flush := h.rest != nil && h.ended != endGone && !hw.flushing
	hw.flushing = hw.flushing || flush
	release := h.over && (h.rest == nil || h.ended == endGone) && !hw.released
	hw.released = hw.released || release
	h.mu.Unlock()
	if flush {
		go hw.turn(nil)
	}
	if release {
		return hw.letGo
	}
	return nil
}

// letGo ends a wait whose response is over: its clock and quit hook stop,
// and its connection goes. A response that was its connection's last (a
// stream, a long poll's final answer), over and whole in the socket, is
// closed here, with no wake-up and no read in between, before the client's
// FIN; one whose client sent more is closed gracefully (closeDone's
// decision, taken once).
func (hw *heldWait) letGo() {
	hw.clock.stop()
	hw.stopQuit()
	h := hw.h
	h.mu.Lock()
	if h.ended == endDone {
		h.ended = endClose
		if closedAtOnce(h.conn, h.behind) {
			h.ended = endClosed
		}
	}
	e := h.ended
	h.mu.Unlock()
	if e == endClosed || e == endGone {
		h.release(e) // closes at once, if not closed: never blocks
	} else {
		go h.release(e) // hands back, or drains: may block
	}
}
