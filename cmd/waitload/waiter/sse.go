package waiter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"jobwait/server/sse"
)

// maxReconnects bounds how often a stream (or Nchan long poll) let go
// before the wait's end is asked again.
const maxReconnects = 3

// errEndedEarly is a stream that kept ending before the wait did.
var errEndedEarly = errors.New("stream ended without a terminal event")

// sse waits on GET .../stream (SPEC.md §5) until a completed, failed or
// timeout event; 204 (the wait is over) is a timeout.
func (w *waiter) sse(ctx context.Context) (kind Kind, at time.Time, err error) {
	err = w.follow(ctx, "/api/events/jobs/"+w.job+"/stream", true, untilFinal(&kind, &at), func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNoContent {
			kind, at = TimedOut, time.Now()
			return nil
		}
		body, t, err := w.readBody(resp)
		if at = t; err != nil {
			return err
		}
		_, _, kind, err = judge(resp.StatusCode, body)
		return err
	})
	return kind, at, err
}

// follow reads the event stream at path as an EventSource does, handing each
// event to on until on says the wait is over. A stream that ends first is
// asked again with Last-Event-ID, after the server's retry: delay if retry
// (else at once), while budget is left, at most maxReconnects times; then it
// ends with errEndedEarly. A non-200 answer ends the wait with what other
// makes of it.
func (w *waiter) follow(ctx context.Context, path string, retry bool,
	on func(ev sse.Event, at time.Time) (bool, error), other func(*http.Response) error) error {
	p := sse.NewReader(nil)
	p.SetRetry(w.h.spec.PollInterval) // until a stream sends retry:
	for attempt := 0; ; attempt++ {
		header := "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
		if id := p.LastID(); id != "" {
			header += "Last-Event-ID: " + id + "\r\n"
		}
		resp, err := w.request(ctx, path, header, w.deadline.Add(grace))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return other(resp)
		}
		p.Reset(bufio.NewReaderSize(resp.Body, readBufSize))
		for {
			ev, err := p.Next()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read stream: %w", err)
			}
			if done, err := on(ev, time.Now()); done || err != nil {
				return err
			}
		}
		// The body is not closed, which would drain it: the connection is.
		w.hangUp()
		next := time.Now()
		if retry {
			next = next.Add(p.Retry())
		}
		if attempt == maxReconnects || next.After(w.deadline) {
			return errEndedEarly
		}
		if err := sleepUntil(ctx, next); err != nil {
			return err
		}
	}
}

// untilFinal is a one-job stream's handler: it keeps the kind and receipt of
// the job's completed, failed or timeout event, which ends the wait.
func untilFinal(kind *Kind, at *time.Time) func(sse.Event, time.Time) (bool, error) {
	return func(ev sse.Event, t time.Time) (bool, error) {
		*at = t
		switch ev.Type {
		case "status":
			return false, nil
		case "completed", "failed":
			var err error
			_, _, *kind, err = judge(http.StatusOK, []byte(ev.Data))
			return true, err
		case "timeout":
			*kind = TimedOut
			return true, nil
		}
		*kind = Errored
		return true, fmt.Errorf("unexpected event %.20q", ev.Type)
	}
}

// sseMany waits on one many-job stream (SPEC.md §8) until every job has its
// final event; 204 means every job had ended.
func (w *waiter) sseMany(ctx context.Context, jobs []string) (map[string]Outcome, error) {
	ends := make(map[string]Outcome, len(jobs))
	err := w.follow(ctx, "/api/events/jobs/stream?ids="+strings.Join(jobs, ","), true, func(ev sse.Event, at time.Time) (bool, error) {
		var who struct {
			JobID string `json:"jobId"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &who); err != nil || who.JobID == "" {
			return false, fmt.Errorf("event %.20q without a jobId", ev.Type)
		}
		e := Outcome{At: at}
		switch ev.Type {
		case "status":
			return false, nil
		case "completed", "failed":
			var err error
			if _, _, e.Kind, err = judge(http.StatusOK, []byte(ev.Data)); err != nil {
				e.Err = errKind(err)
			}
		case "timeout":
			e.Kind = TimedOut
		case "problem":
			e.Kind, e.Err = Errored, "problem "+ev.Data
		default:
			return false, fmt.Errorf("unexpected event %.20q", ev.Type)
		}
		ends[who.JobID] = e
		return len(ends) == len(jobs), nil
	}, func(resp *http.Response) error {
		if resp.StatusCode == http.StatusNoContent {
			return nil
		}
		body, _, err := w.readBody(resp)
		if err == nil {
			_, _, _, err = judge(resp.StatusCode, body)
		}
		return err
	})
	return ends, err
}
