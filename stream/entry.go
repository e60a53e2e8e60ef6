package stream

import (
	"sync"
	"sync/atomic"
	"time"
)

// entry is one watched job.
type entry[T any] struct {
	id      string
	waiters map[*Waiter[T]]struct{}
	state   state         // where its reading stands; changed by moveLocked only
	cur     *update[T]    // last state read; nil before the first read
	since   time.Time     // arrival of the oldest change not yet read
	ready   chan struct{} // closed by the next read to start; nil if nobody waits
	claimed chan struct{} // the ready of the read in progress
	err     error         // the last read's error, for those on ready
	readAt  time.Time     // when the last successful read was applied
	expires time.Time     // when Redis expires the job, as Config.TTLs said; zero: never
	newTTL  bool          // its time to live is to be learnt: a new job, or one told of a new one

	doubtFrom time.Time     // first read of the state held back (Config.Doubt); zero: none
	doubtStep time.Duration // the next re-read's delay
}

// readyLocked returns the channel the next read of e to start closes when done.
func (e *entry[T]) readyLocked() chan struct{} {
	if e.ready == nil {
		e.ready = make(chan struct{})
	}
	return e.ready
}

type update[T any] struct {
	state T
	at    time.Time // when the change that led to this state was learnt
}

// state is where the hub's reading of a watched job stands; its legal moves
// are in next, made by moveLocked only. A change (a notification, a Watch,
// a resync) is queued in dirty and read first. A safety re-read is queued
// in sweep, read when no change waits; a change it finds with no
// notification since (unannounced) is evidence that the hub is blind.
type state uint8

const (
	illegal       state = iota // no such state: where next has no move
	idle                       // read; nothing pending
	dirty                      // queued in dirty: a read that expects a change
	sweep                      // queued in sweep: a safety re-read, behind every dirty job
	sweepAhead                 // a safety re-read moved into dirty by a Watch or resync, no notification since
	reading                    // being read for a change
	readingAgain               // being read; changed since the read began: read once more after it
	sweeping                   // being read for a safety re-read (sweep or sweepAhead taken)
	sweepingAgain              // being read for a safety re-read; asked again since, with no notification
)

// event is what happens to a watched job.
type event uint8

const (
	notified event = iota // a keyspace notification of the job
	asked                 // a read asked for with no notification: a Watch, a resync, a retry, a time to live run out
	swept                 // the guard asks for a safety re-read (of an idle job only)
	taken                 // a reader takes it off its queue
	readDone              // its read ended, whatever it found
	dropped               // its read ended, and nobody watches it any more
)

// next is every legal move: next[s][ev] is the state event ev leads to
// from state s; illegal where ev cannot happen in s.
var next = [sweepingAgain + 1][dropped + 1]state{
	idle:          {notified: dirty, asked: dirty, swept: sweep},
	dirty:         {notified: dirty, asked: dirty, taken: reading},
	sweep:         {notified: dirty, asked: sweepAhead, taken: sweeping},
	sweepAhead:    {notified: dirty, asked: sweepAhead, taken: sweeping},
	reading:       {notified: readingAgain, asked: readingAgain, readDone: idle, dropped: idle},
	readingAgain:  {notified: readingAgain, asked: readingAgain, readDone: dirty, dropped: idle},
	sweeping:      {notified: readingAgain, asked: sweepingAgain, readDone: idle, dropped: idle},
	sweepingAgain: {notified: readingAgain, asked: sweepingAgain, readDone: dirty, dropped: idle},
}

// inDirty reports whether a job in state s is queued in dirty.
func (s state) inDirty() bool { return s == dirty || s == sweepAhead }

// inSweep reports whether a job in state s is queued in sweep.
func (s state) inSweep() bool { return s == sweep }

// trusted reports whether no change is known to be pending, so that the
// last state read may be handed to a new waiter.
func (s state) trusted() bool { return s == idle || s == sweep }

// unannounced reports whether the job is read for a safety re-read with no
// notification since.
func (s state) unannounced() bool { return s == sweeping || s == sweepingAgain }

// moveLocked applies event ev to e and queues e where its new state says.
func (h *Hub[T]) moveLocked(e *entry[T], ev event) {
	from, to := e.state, next[e.state][ev]
	if to == illegal {
		panic("stream: illegal move of a watched job")
	}
	e.state = to
	switch {
	case to.inDirty() && !from.inDirty():
		h.dirty = append(h.dirty, e)
		signal(h.kick)
	case to.inSweep():
		h.sweep = append(h.sweep, e)
		signal(h.kick)
	}
}

// Waiter is one client's wait for one job. Its owner selects on C, reads
// Latest when woken, and calls Close when done; or sets OnChange.
type Waiter[T any] struct {
	hub    *Hub[T]
	id     string
	held   bool          // holds the job's channels (keys mode's Watch)
	wake   chan struct{} // capacity one: a pending wake-up covers any number of changes
	latest atomic.Pointer[update[T]]
	push   atomic.Pointer[func() func()] // OnChange's f; nil: signal wake
	close  sync.Once
}

// C is signalled when the job's state changes; read Latest then.
func (w *Waiter[T]) C() <-chan struct{} { return w.wake }

// OnChange makes f, instead of a signal on C, the way w learns of each
// later change: the reader calls f once the new state is stored, outside
// the hub's lock, with no goroutine switch. f must not block; it may run
// concurrently with the owner, with another call of f (each sees the
// newest state), and after Close; what it cannot do at once it hands to
// the owner with Wake. What f returns, if not nil, runs once every waiter
// of the job had its f, before the read's next job; it must not block.
func (w *Waiter[T]) OnChange(f func() (after func())) { w.push.Store(&f) }

// Wake signals C without blocking, as a change does.
func (w *Waiter[T]) Wake() { signal(w.wake) }

// Latest returns the newest state and when the change that produced it was
// learnt (the notification's arrival, or the read that found it).
func (w *Waiter[T]) Latest() (T, time.Time) {
	u := w.latest.Load()
	return u.state, u.at
}

// Close unregisters the waiter. It is safe to call more than once.
func (w *Waiter[T]) Close() {
	w.close.Do(func() { w.hub.leave(w) })
}

// deliver replaces the undelivered state and signals, or returns
// OnChange's f, to be called once the hub's lock is released.
func (w *Waiter[T]) deliver(u *update[T]) (push func() func()) {
	w.latest.Store(u)
	if f := w.push.Load(); f != nil {
		return *f
	}
	w.Wake()
	return nil
}
