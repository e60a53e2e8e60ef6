package streamtest

import (
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
