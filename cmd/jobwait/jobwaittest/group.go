package jobwaittest

import (
	"sync"
	"testing"
	"time"
)

// Group runs functions at once and collects what each returns. Its zero
// value is ready; Wait is bounded, so that a function that hangs fails the
// test instead of the test binary's timeout.
type Group[T any] struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	out []T
}

// Go runs fn in its own goroutine.
func (g *Group[T]) Go(fn func() T) {
	g.wg.Go(func() {
		v := fn()
		g.mu.Lock()
		g.out = append(g.out, v)
		g.mu.Unlock()
	})
}

// Wait returns what every function returned, in the order they ended,
// once all have ended; it fails tb if some are still running after within.
func (g *Group[T]) Wait(tb testing.TB, within time.Duration) []T {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(within):
		tb.Fatalf("functions still running after %v", within)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]T(nil), g.out...)
}
