package streamtest

import (
	"context"
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

// Run runs run in its own goroutine, which the test owns: stop cancels
// run's context and waits for it to return, failing tb if it has not
// within. stop runs when the test ends if not before; calling it again
// does nothing.
func Run(tb testing.TB, within time.Duration, what string, run func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(within):
				tb.Errorf("%s did not return within %v of cancel", what, within)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}
