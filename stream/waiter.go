package stream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Waiter is one client's wait for one job. Its owner selects on C, reads
// Latest when woken, and calls Close when done. An owner that can act on a
// change at once, without blocking, sets OnChange to be called instead.
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
// later change: the goroutine that read the change calls f once the new
// state is stored (Latest), outside the hub's lock, with no wake-up or
// goroutine switch in between. f must not block; it may run concurrently
// with the owner's goroutine, and with another call of f when two reads of
// the job finish together (each sees the newest state), and even after
// Close. It hands work it cannot finish at once to its owner with Wake.
// What f returns, if not nil, is called once every waiter of that job has
// had its f called, before the next job of the same read is delivered:
// work that follows a delivery (closing a finished connection) then never
// delays another delivery of the same job, nor waits for the deliveries of
// the read's later jobs. It must not block either.
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

// deliver replaces the undelivered state and signals without blocking; a
// waiter with OnChange is returned instead, for its f to be called once
// the hub's lock is released.
func (w *Waiter[T]) deliver(u *update[T]) (push func() func()) {
	w.latest.Store(u)
	if f := w.push.Load(); f != nil {
		return *f
	}
	w.Wake()
	return nil
}
