package stream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Waiter is one client's wait for one job. Its owner selects on C, reads
// Latest when woken, and calls Close when done.
type Waiter[T any] struct {
	hub    *Hub[T]
	id     string
	wake   chan struct{} // capacity one: a pending wake-up covers any number of changes
	latest atomic.Pointer[update[T]]
	close  sync.Once
}

// C is signalled when the job's state changes; read Latest then.
func (w *Waiter[T]) C() <-chan struct{} { return w.wake }

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

// deliver replaces the undelivered state and signals without blocking.
func (w *Waiter[T]) deliver(u *update[T]) {
	w.latest.Store(u)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
