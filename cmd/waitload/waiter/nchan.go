package waiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// nchanSSE reads the job's Nchan channel (nchan.conf; it carries the body
// jobwait answers) until the completed event; pings without data dispatch
// nothing. A stream ended first (nchan_subscriber_timeout) is asked again at once.
func (w *waiter) nchanSSE(ctx context.Context) (kind Kind, at time.Time, err error) {
	err = w.follow(ctx, "/nchan/sse/"+w.job, false, untilFinal(&kind, &at), func(resp *http.Response) error {
		_, at, _ = w.readBody(resp)
		return fmt.Errorf("http %d", resp.StatusCode)
	})
	if errors.Is(err, errEndedEarly) && !time.Now().Before(w.deadline) {
		return TimedOut, time.Now(), nil
	}
	return kind, at, err
}

// nchanLongPoll holds GET /nchan/lp/{job} until the completed answer; let go
// without a message (408, 304), it asks again with the Last-Modified and Etag
// it was given, while budget is left.
func (w *waiter) nchanLongPoll(ctx context.Context) (Kind, time.Time, error) {
	var extra string
	for attempt := 0; ; attempt++ {
		if !time.Now().Before(w.deadline) {
			return TimedOut, time.Now(), nil
		}
		resp, err := w.request(ctx, "/nchan/lp/"+w.job, extra, w.deadline.Add(grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		body, at, err := w.readBody(resp)
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
