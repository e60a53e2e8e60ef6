package waiter

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
)

// longPoll holds GET .../status?wait=N, N being what is left of the
// waiter's budget in whole seconds (the server clamps it to its own
// budget), and asks again while the answer is a non-terminal timedOut one
// and budget is left. A 503 (SVC_001 too many waiters, SVC_002 Redis
// unreachable) is asked again after its Retry-After, within the budget;
// refused until the budget runs out, the wait is an error.
func (w *waiter) longPoll(ctx context.Context) (Kind, time.Time, error) {
	base := statusPath(w.job) + "?wait="
	var refused error // the last answer's, if it was a 503
	for {
		left := time.Until(w.deadline)
		if left <= 0 {
			return outOfBudget(time.Now(), refused)
		}
		secs := int(math.Ceil(left.Seconds()))
		resp, err := w.request(ctx, base+strconv.Itoa(secs), "", time.Now().Add(time.Duration(secs)*time.Second+grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		body, at, err := w.c.readBody(resp)
		if err != nil {
			return Errored, at, err
		}
		refused = nil
		again := resp.StatusCode == http.StatusServiceUnavailable
		if again {
			refused = w.refusal(resp.StatusCode, body)
		} else {
			a, done, kind, err := judge(resp.StatusCode, body)
			if done {
				return kind, at, err
			}
			again = !a.TimedOut
		}
		if again {
			// Refused, or answered early without a result (not what
			// SPEC.md §4 says a held request does): back off before
			// asking again, as a client would.
			next := at.Add(retryAfter(resp.Header, w.interval))
			if next.After(w.deadline) {
				return outOfBudget(at, refused)
			}
			if err := sleepUntil(ctx, next); err != nil {
				return Errored, time.Time{}, err
			}
		}
	}
}
