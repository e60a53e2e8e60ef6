package waiter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// poll waits as the legacy clients do: a short poll, then another every
// interval (the answer's Retry-After when it has one, else -poll-interval),
// for as long as the budget lasts: with 2 s and 30 s, at 0, 2, …, 30 s.
// The connection is kept alive between polls, as a browser would. A 503
// (SVC_001, SVC_002) is polled through like any other answer; refused
// until the budget runs out, the wait is an error.
//
// Each waiter starts polling at a random offset within the first interval:
// real clients' polls are not in step with one another or with the
// producer, and in-step polls would make the latency depend on where the
// completions fall in the 2 s cycle.
func (w *waiter) poll(ctx context.Context) (Kind, time.Time, error) {
	path := statusPath(w.job)
	offset := rand.N(w.interval)
	w.start, w.deadline = w.start.Add(offset), w.deadline.Add(offset)
	for next := w.start; ; {
		if err := sleepUntil(ctx, next); err != nil {
			return Errored, time.Time{}, err
		}
		sent := time.Now()
		// A slow answer is waited for as a browser would, up to the end
		// of the budget: an overloaded server shows as latency, not errors.
		resp, err := w.request(ctx, path, "", w.deadline.Add(grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		body, at, err := w.c.readBody(resp)
		if err != nil {
			return Errored, at, err
		}
		var refused error
		if resp.StatusCode == http.StatusServiceUnavailable {
			refused = w.refusal(resp.StatusCode, body) // overloaded: poll again, after Retry-After
		} else if _, done, kind, err := judge(resp.StatusCode, body); done {
			return kind, at, err
		}
		next = sent.Add(retryAfter(resp.Header, w.interval))
		if next.After(w.deadline) {
			return outOfBudget(at, refused)
		}
	}
}

// statusPath is the job's status URL path (SPEC.md §3).
func statusPath(job string) string { return "/api/events/jobs/" + job + "/status" }

// refusal counts a 503 answer asked through and says what it was.
func (w *waiter) refusal(code int, body []byte) error {
	w.rejected++
	_, _, _, err := judge(code, body)
	return err
}

// outOfBudget is how a wait ends when its budget runs out: a timeout, or
// an error when the last answer was a refusal, which no server that held
// the wait would give.
func outOfBudget(at time.Time, refused error) (Kind, time.Time, error) {
	if refused != nil {
		return Errored, at, fmt.Errorf("%w until the budget ran out", refused)
	}
	return TimedOut, at, nil
}
