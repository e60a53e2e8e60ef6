package streamtest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// pollEvery is how often Eventually and EventuallyEqual look again.
const pollEvery = 5 * time.Millisecond

// Eventually polls cond until it holds, failing tb after within with what
// it was waiting for.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !poll(within, cond) {
		tb.Fatalf("not %s within %v", what, within)
	}
}

// EventuallyEqual polls get until it returns want, failing tb after within
// with the last value it returned.
func EventuallyEqual[T comparable](tb testing.TB, within time.Duration, what string, want T, get func() T) {
	tb.Helper()
	var got T
	if !poll(within, func() bool { got = get(); return got == want }) {
		tb.Fatalf("%s = %v after %v; want %v", what, got, within, want)
	}
}

// poll reports whether cond held before within passed.
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

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
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(within):
			tb.Errorf("%s did not return within %v of cancel", what, within)
		}
	})
	tb.Cleanup(stop)
	return stop
}
