package waiter

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// status waits on the job's status URL (SPEC.md §3, §4). A short poll
// (long false) polls as legacy clients do, every interval (the answer's
// Retry-After, else -poll-interval) from when the last was sent, while the
// budget lasts; it starts at a random offset within the first interval, as
// real clients are in step with neither one another nor the producer. A
// long poll holds ?wait=N, N the budget left in whole seconds, asks again at
// once after a timedOut answer and backs off after an early one. A 503 is
// asked again after its Retry-After; refused to the end, the wait is an error.
func (w *waiter) status(ctx context.Context, long bool) (Kind, time.Time, error) {
	path := "/api/events/jobs/" + w.job + "/status"
	if !long {
		offset := rand.N(w.h.spec.PollInterval)
		w.start, w.deadline = w.start.Add(offset), w.deadline.Add(offset)
		if err := sleepUntil(ctx, w.start); err != nil {
			return Errored, time.Time{}, err
		}
	}
	var refused error // the last answer's, if it was a 503
	for {
		sent := time.Now()
		// A slow short poll is waited for as a browser would, to the end
		// of the budget: an overloaded server shows as latency, not errors.
		p, deadline := path, w.deadline.Add(grace)
		if long {
			left := w.deadline.Sub(sent)
			if left <= 0 {
				return outOfBudget(sent, refused)
			}
			secs := int(math.Ceil(left.Seconds()))
			p, deadline = path+"?wait="+strconv.Itoa(secs), sent.Add(time.Duration(secs)*time.Second+grace)
		}
		resp, err := w.request(ctx, p, "", deadline)
		if err != nil {
			return Errored, time.Time{}, err
		}
		body, at, err := w.readBody(resp)
		if err != nil {
			return Errored, at, err
		}
		refused = nil
		if resp.StatusCode == http.StatusServiceUnavailable {
			w.rejected++
			_, _, _, refused = judge(resp.StatusCode, body)
		} else if a, done, kind, err := judge(resp.StatusCode, body); done {
			return kind, at, err
		} else if long && a.TimedOut {
			continue
		}
		next := sent
		if long {
			next = at
		}
		next = next.Add(retryAfter(resp.Header, w.h.spec.PollInterval))
		if next.After(w.deadline) {
			return outOfBudget(at, refused)
		}
		if err := sleepUntil(ctx, next); err != nil {
			return Errored, time.Time{}, err
		}
	}
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
