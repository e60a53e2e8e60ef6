package waiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Nchan's subscriber locations of nchan.conf, below the target's base path.
func nchanSSEPath(job string) string      { return "/nchan/sse/" + job }
func nchanLongPollPath(job string) string { return "/nchan/lp/" + job }

// nchan is one waiter's wait on its job's Nchan channel: the peer's
// EventSource and long-poll subscribers, which receive the very body
// jobwait answers (package nchan publishes it).
func (w *waiter) nchan(ctx context.Context, m Mode) (Kind, time.Time, error) {
	switch m {
	case ModeSSE:
		return w.nchanSSE(ctx)
	case ModeLongPoll:
		return w.nchanLongPoll(ctx)
	}
	return Errored, time.Time{}, fmt.Errorf("nchan has no %s mode", m)
}

// nchanSSE subscribes by EventSource and reads until the completed event.
// Nchan's pings ("event: ping" without data) dispatch nothing. A stream that
// ends first (nchan_subscriber_timeout) is reconnected at once with
// Last-Event-ID while budget is left, at most maxReconnects times.
func (w *waiter) nchanSSE(ctx context.Context) (kind Kind, at time.Time, err error) {
	err = w.follow(ctx, nchanSSEPath(w.job), false, untilFinal(&kind, &at), func(resp *http.Response) error {
		_, at, _ = w.c.readBody(resp)
		return fmt.Errorf("http %d", resp.StatusCode)
	})
	switch {
	case errors.Is(err, errEndedEarly) && !time.Now().Before(w.deadline):
		return TimedOut, time.Now(), nil
	case err != nil:
		return Errored, at, err
	}
	return kind, at, nil
}

// nchanLongPoll holds GET /nchan/lp/{job} until the completed answer. A
// long poll Nchan lets go without a message (408 at
// nchan_subscriber_timeout, 304) is asked again with the Last-Modified and
// Etag it gave, while budget is left.
func (w *waiter) nchanLongPoll(ctx context.Context) (Kind, time.Time, error) {
	var extra string
	for attempt := 0; ; attempt++ {
		if !time.Now().Before(w.deadline) {
			return TimedOut, time.Now(), nil
		}
		resp, err := w.request(ctx, nchanLongPollPath(w.job), extra, w.deadline.Add(grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		body, at, err := w.c.readBody(resp)
		if err != nil {
			return Errored, at, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			_, done, kind, err := judge(resp.StatusCode, body)
			if !done {
				return Errored, at, fmt.Errorf("published answer not final")
			}
			return kind, at, err
		case http.StatusRequestTimeout, http.StatusNotModified:
			if attempt == maxReconnects {
				return Errored, at, fmt.Errorf("http %d: let go without a message %d times", resp.StatusCode, attempt+1)
			}
			extra = ""
			if v := resp.Header.Get("Last-Modified"); v != "" {
				extra += "If-Modified-Since: " + v + "\r\n"
			}
			if v := resp.Header.Get("Etag"); v != "" {
				extra += "If-None-Match: " + v + "\r\n"
			}
		default:
			return Errored, at, fmt.Errorf("http %d", resp.StatusCode)
		}
	}
}
