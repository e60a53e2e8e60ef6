package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"jobwait/sse"
)

// maxReconnects bounds how often an SSE waiter reconnects a stream that
// ended without a terminal event, as an EventSource would.
const maxReconnects = 3

// sse waits on GET .../stream until a completed, failed or timeout event.
// A stream that ends early is reconnected with Last-Event-ID, after the
// server's retry: delay, while budget is left; 204 (SPEC.md §5: the wait is
// over) ends the wait as a timeout.
func (w *waiter) sse(ctx context.Context) (Kind, time.Time, error) {
	p := w.streamReader()
	for attempt := 0; ; attempt++ {
		resp, err := w.request(ctx, streamPath(w.job), streamHeader(p), w.deadline.Add(grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		if resp.StatusCode == http.StatusNoContent {
			return TimedOut, time.Now(), nil
		}
		if resp.StatusCode != http.StatusOK {
			body, at, err := w.c.readBody(resp)
			if err != nil {
				return Errored, at, err
			}
			_, _, kind, err := judge(resp.StatusCode, body)
			return kind, at, err
		}
		kind, at, err := w.readStream(resp.Body, p)
		if kind != "" || err != nil {
			return kind, at, err
		}
		// The stream ended without a terminal event.
		w.c.close()
		w.c = nil
		next := time.Now().Add(p.Retry())
		if attempt == maxReconnects || next.After(w.deadline) {
			return Errored, time.Now(), fmt.Errorf("stream ended without a terminal event")
		}
		if err := sleepUntil(ctx, next); err != nil {
			return Errored, time.Time{}, err
		}
	}
}

// readStream reads events until a terminal one (kind set) or the end of the
// stream (kind empty, nil error). The body is not closed: closing drains
// it, and after a terminal event the connection is closed instead.
func (w *waiter) readStream(body io.Reader, p *sse.Reader) (Kind, time.Time, error) {
	p.Reset(bufio.NewReaderSize(body, readBufSize))
	for {
		ev, err := p.Next()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", time.Time{}, nil
		}
		if err != nil {
			return Errored, time.Time{}, fmt.Errorf("read stream: %w", err)
		}
		at := time.Now()
		switch ev.Type {
		case "status":
			continue
		case "completed", "failed":
			_, _, kind, err := judge(http.StatusOK, []byte(ev.Data))
			return kind, at, err
		case "timeout":
			return TimedOut, at, nil
		default:
			return Errored, at, fmt.Errorf("unexpected event %.20q", ev.Type)
		}
	}
}

// streamReader returns a reader for a waiter's streams: until a stream
// sends retry:, a reconnect waits the poll interval.
func (w *waiter) streamReader() *sse.Reader {
	p := sse.NewReader(nil)
	p.SetRetry(w.interval)
	return p
}

// streamHeader is the extra header lines of a stream request: after a
// reconnect, the last event id, as an EventSource sends it.
func streamHeader(p *sse.Reader) string {
	h := "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
	if id := p.LastID(); id != "" {
		h += "Last-Event-ID: " + id + "\r\n"
	}
	return h
}

// streamPath is the job's event stream URL path (SPEC.md §5).
func streamPath(job string) string { return "/api/events/jobs/" + job + "/stream" }
