package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxReconnects bounds how often an SSE waiter reconnects a stream that
// ended without a terminal event, as an EventSource would.
const maxReconnects = 3

// sse waits on GET .../stream until a completed, failed or timeout event.
// A stream that ends early is reconnected with Last-Event-ID, after the
// server's retry: delay, while budget is left; 204 (SPEC.md §5: the wait is
// over) ends the wait as a timeout.
func (w *waiter) sse(ctx context.Context) (Kind, time.Time, error) {
	var p sseParser
	p.retry = w.interval
	for attempt := 0; ; attempt++ {
		extra := "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
		if p.lastID != "" {
			extra += "Last-Event-ID: " + p.lastID + "\r\n"
		}
		resp, err := w.request(ctx, streamPath(w.job), extra, w.deadline.Add(grace))
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
		kind, at, err := w.readStream(resp.Body, &p)
		if kind != "" || err != nil {
			return kind, at, err
		}
		// The stream ended without a terminal event.
		w.c.close()
		w.c = nil
		next := time.Now().Add(p.retry)
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
func (w *waiter) readStream(body io.Reader, p *sseParser) (Kind, time.Time, error) {
	br := bufio.NewReaderSize(body, readBufSize)
	for {
		ev, err := p.next(br)
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

// streamPath is the job's event stream URL path (SPEC.md §5).
func streamPath(job string) string { return "/api/events/jobs/" + job + "/stream" }

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	ID   string // the last event id in force when it was dispatched
	Type string // "message" when the event named none
	Data string
}

// sseParser follows the event stream interpretation of the HTML standard:
// fields accumulate until a blank line dispatches them; comment lines
// (": keepalive") are counted and otherwise ignored.
type sseParser struct {
	typ      string
	data     strings.Builder
	hasData  bool
	lastID   string
	retry    time.Duration
	comments int
}

// next reads lines until an event is dispatched. An event cut off by the
// end of the stream is not dispatched.
func (p *sseParser) next(br *bufio.Reader) (sseEvent, error) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return sseEvent{}, err
		}
		if ev, ok := p.line(strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")); ok {
			return ev, nil
		}
	}
}

// line takes one line without its end and reports an event when the line
// dispatched one.
func (p *sseParser) line(s string) (sseEvent, bool) {
	if s == "" {
		return p.dispatch()
	}
	if s[0] == ':' {
		p.comments++
		return sseEvent{}, false
	}
	field, value, found := strings.Cut(s, ":")
	if found {
		value = strings.TrimPrefix(value, " ")
	}
	switch field {
	case "event":
		p.typ = value
	case "data":
		if p.hasData {
			p.data.WriteByte('\n')
		}
		p.data.WriteString(value)
		p.hasData = true
	case "id":
		if !strings.ContainsRune(value, 0) {
			p.lastID = value
		}
	case "retry":
		if ms, err := strconv.Atoi(value); err == nil && ms >= 0 && strings.Trim(value, "0123456789") == "" {
			p.retry = time.Duration(ms) * time.Millisecond
		}
	}
	return sseEvent{}, false
}

func (p *sseParser) dispatch() (sseEvent, bool) {
	ev := sseEvent{ID: p.lastID, Type: p.typ, Data: p.data.String()}
	ok := p.hasData
	p.typ, p.hasData = "", false
	p.data.Reset()
	if !ok {
		return sseEvent{}, false
	}
	if ev.Type == "" {
		ev.Type = "message"
	}
	return ev, true
}
