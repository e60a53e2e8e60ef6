package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"jobwait/sse"
)

// DefaultJobsPerConn is -jobs-per-conn's default: how many waits one
// many-job stream carries in -mode ssemany.
const DefaultJobsPerConn = 10

// manyStreamPath is the many-job stream's URL path (SPEC.md §8).
func manyStreamPath(jobs []string) string {
	return "/api/events/jobs/stream?ids=" + strings.Join(jobs, ",")
}

// runMany holds waiters [first, first+n) on one many-job stream: one
// connection, one outcome per waiter. Waiters of the same job share its
// events (the ids of a stream are distinct).
func (h *holder) runMany(ctx context.Context, first, n int) []outcome {
	out := make([]outcome, n)
	at := map[string][]int{} // job -> positions in out
	var jobs []string
	for k := range n {
		j := (first + k) % len(h.spec.Jobs)
		out[k].Job = j
		id := h.spec.Jobs[j]
		if at[id] == nil {
			jobs = append(jobs, id)
		}
		at[id] = append(at[id], k)
	}
	w := &waiter{start: time.Now(), d: h.d, interval: h.spec.PollInterval}
	w.deadline = w.start.Add(h.spec.Budget)
	c, err := h.d.dial(ctx)
	h.started.Add(int64(n))
	if err != nil {
		for k := range out {
			out[k].Kind, out[k].Err, out[k].At = Errored, "dial: "+errKind(err), time.Now()
		}
		return out
	}
	w.c = c
	held := h.held.Add(int64(n))
	for p := h.peak.Load(); held > p && !h.peak.CompareAndSwap(p, held); p = h.peak.Load() {
	}
	defer h.held.Add(-int64(n))
	defer func() {
		if w.c != nil {
			w.c.close()
		}
	}()
	ends, err := w.sseMany(ctx, jobs)
	for id, ks := range at {
		e, ok := ends[id]
		if !ok {
			e = end{Kind: Errored, At: time.Now(), Err: "stream ended without the job's final event"}
			if err != nil {
				e.Err = errKind(err)
			}
		}
		for _, k := range ks {
			out[k].Kind, out[k].At, out[k].Err = e.Kind, e.At, e.Err
		}
	}
	// The stream's requests are counted once, on its first waiter: the
	// report's requests per job are the connection's, shared.
	out[0].Requests, out[0].Rejected = w.requests, w.rejected
	return out
}

// end is how one job's wait on a many-job stream ended.
type end struct {
	Kind Kind
	At   time.Time
	Err  string
}

// sseMany waits on one many-job stream until every job has its final
// event, reconnecting with Last-Event-ID (which keeps the deadline and
// skips the jobs already ended) as an EventSource would; 204 means every
// job had ended.
func (w *waiter) sseMany(ctx context.Context, jobs []string) (map[string]end, error) {
	ends := make(map[string]end, len(jobs))
	p := w.streamReader()
	for attempt := 0; ; attempt++ {
		resp, err := w.request(ctx, manyStreamPath(jobs), streamHeader(p), w.deadline.Add(grace))
		if err != nil {
			return ends, err
		}
		if resp.StatusCode == http.StatusNoContent {
			return ends, nil
		}
		if resp.StatusCode != http.StatusOK {
			body, _, err := w.c.readBody(resp)
			if err != nil {
				return ends, err
			}
			_, _, _, err = judge(resp.StatusCode, body)
			return ends, err
		}
		if err := w.readManyStream(resp.Body, p, ends); err != nil || len(ends) == len(jobs) {
			return ends, err
		}
		w.c.close()
		w.c = nil
		next := time.Now().Add(p.Retry())
		if attempt == maxReconnects || next.After(w.deadline) {
			return ends, fmt.Errorf("stream ended without every final event")
		}
		if err := sleepUntil(ctx, next); err != nil {
			return ends, err
		}
	}
}

// readManyStream reads events into ends until the stream ends.
func (w *waiter) readManyStream(body io.Reader, p *sse.Reader, ends map[string]end) error {
	p.Reset(bufio.NewReaderSize(body, readBufSize))
	for {
		ev, err := p.Next()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stream: %w", err)
		}
		at := time.Now()
		var who struct {
			JobID string `json:"jobId"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &who); err != nil || who.JobID == "" {
			return fmt.Errorf("event %.20q without a jobId", ev.Type)
		}
		e := end{At: at}
		switch ev.Type {
		case "status":
			continue
		case "completed", "failed":
			var err error
			_, _, e.Kind, err = judge(http.StatusOK, []byte(ev.Data))
			if err != nil {
				e.Err = errKind(err)
			}
		case "timeout":
			e.Kind = TimedOut
		case "problem":
			e.Kind, e.Err = Errored, "problem "+ev.Data
		default:
			return fmt.Errorf("unexpected event %.20q", ev.Type)
		}
		ends[who.JobID] = e
	}
}
