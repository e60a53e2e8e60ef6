package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is how a waiter's wait ended.
type Kind string

// The three ends of a wait.
const (
	Delivered Kind = "delivered" // the COMPLETED answer with its recommendations
	TimedOut  Kind = "timeout"   // the waiter's budget was spent first
	Errored   Kind = "error"     // anything else: connection trouble, an error answer, a FAILED job
)

// outcome is what one waiter saw. At is the wall clock when the terminal
// answer had been read; it travels between processes, so it is compared
// with the producer's clock by wall time.
type outcome struct {
	Job      int       `json:"j"`
	Kind     Kind      `json:"k"`
	At       time.Time `json:"at"`
	Err      string    `json:"e,omitempty"`
	Requests int       `json:"r"`
	Rejected int       `json:"x,omitempty"` // 503 answers asked through
}

// counts is a holder's progress, summed over processes by the reporter.
type counts struct {
	Started   int `json:"started"` // connection attempts finished, either way
	Held      int `json:"held"`    // connected and not yet done
	Peak      int `json:"peak"`    // most held at once
	Done      int `json:"done"`
	Delivered int `json:"delivered"`
	TimedOut  int `json:"timedOut"`
	Errors    int `json:"errors"`
}

func (c counts) add(o counts) counts {
	return counts{
		Started: c.Started + o.Started, Held: c.Held + o.Held, Peak: c.Peak + o.Peak,
		Done: c.Done + o.Done, Delivered: c.Delivered + o.Delivered,
		TimedOut: c.TimedOut + o.TimedOut, Errors: c.Errors + o.Errors,
	}
}

// holdSpec is one process's share of a mode's waiters. Waiter i, for i in
// [First, First+Count), watches job Jobs[i mod len(Jobs)].
type holdSpec struct {
	Mode            Mode          `json:"mode"`
	Server          string        `json:"server,omitempty"` // Config.Server
	Target          string        `json:"target"`
	Jobs            []string      `json:"jobs"`
	First           int           `json:"first"`
	Count           int           `json:"count"`
	Budget          time.Duration `json:"budget"`
	PollInterval    time.Duration `json:"pollInterval"`
	Sources         int           `json:"sources"`
	DialConcurrency int           `json:"dialConcurrency"`
	Deadline        time.Time     `json:"deadline"`    // nothing outlives it
	JobsPerConn     int           `json:"jobsPerConn"` // ModeSSEMany: waits per stream
}

// holder holds a share of waiters in this process: one goroutine each,
// started by start and all finished when wait returns.
type holder struct {
	spec holdSpec
	d    *dialer
	out  []outcome // index i-First, written once by waiter i

	started, held, peak, done, delivered, timedOut, errors atomic.Int64

	wg sync.WaitGroup
}

// newHolder checks the spec; nothing runs until start.
func newHolder(spec holdSpec) (*holder, error) {
	t, err := parseTarget(spec.Target)
	if err != nil {
		return nil, err
	}
	return &holder{
		spec: spec,
		d:    newDialer(t, spec.Sources, spec.DialConcurrency, spec.First),
		out:  make([]outcome, spec.Count),
	}, nil
}

// start launches every waiter at once; the dialer paces the connections.
func (h *holder) start(ctx context.Context) {
	cancel := context.CancelFunc(func() {})
	if !h.spec.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, h.spec.Deadline)
	}
	var all sync.WaitGroup
	all.Add(h.spec.Count)
	allDone := make(chan struct{})
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		all.Wait()
		close(allDone)
	}()
	go func() { // ends every wait when ctx ends first; frees ctx after
		defer h.wg.Done()
		defer cancel()
		select {
		case <-allDone:
		case <-ctx.Done():
			h.d.stop()
		}
	}()
	if h.spec.Mode == ModeSSEMany {
		h.startMany(ctx, &all)
		return
	}
	for n := range h.spec.Count {
		i := h.spec.First + n
		go func() {
			defer all.Done()
			h.record(n, h.run(ctx, i))
		}()
	}
}

// startMany launches one goroutine per many-job stream, each holding
// JobsPerConn waiters.
func (h *holder) startMany(ctx context.Context, all *sync.WaitGroup) {
	per := max(1, h.spec.JobsPerConn)
	for n := 0; n < h.spec.Count; n += per {
		k := min(per, h.spec.Count-n)
		go func() {
			for j, o := range h.runMany(ctx, h.spec.First+n, k) {
				h.record(n+j, o)
				all.Done()
			}
		}()
	}
}

// record keeps waiter n's outcome (n from First) and counts it.
func (h *holder) record(n int, o outcome) {
	h.out[n] = o
	switch o.Kind {
	case Delivered:
		h.delivered.Add(1)
	case TimedOut:
		h.timedOut.Add(1)
	default:
		h.errors.Add(1)
	}
	h.done.Add(1)
}

// wait returns every waiter's outcome once all are done.
func (h *holder) wait() []outcome {
	h.wg.Wait()
	return h.out
}

func (h *holder) counts() counts {
	return counts{
		Started: int(h.started.Load()), Held: int(h.held.Load()), Peak: int(h.peak.Load()),
		Done: int(h.done.Load()), Delivered: int(h.delivered.Load()),
		TimedOut: int(h.timedOut.Load()), Errors: int(h.errors.Load()),
	}
}

// run is one waiter from its first connection to its outcome.
func (h *holder) run(ctx context.Context, i int) outcome {
	w := &waiter{
		job:      h.spec.Jobs[i%len(h.spec.Jobs)],
		start:    time.Now(),
		d:        h.d,
		interval: h.spec.PollInterval,
	}
	w.deadline = w.start.Add(h.spec.Budget)
	o := outcome{Job: i % len(h.spec.Jobs)}
	c, err := h.d.dial(ctx)
	h.started.Add(1)
	if err != nil {
		o.Kind, o.Err, o.At = Errored, "dial: "+errKind(err), time.Now()
		return o
	}
	w.c = c
	n := h.held.Add(1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	defer h.held.Add(-1)
	defer func() {
		if w.c != nil {
			w.c.close()
		}
	}()
	switch {
	case h.spec.Server == ServerNchan:
		o.Kind, o.At, err = w.nchan(ctx, h.spec.Mode)
	case h.spec.Mode == ModePoll:
		o.Kind, o.At, err = w.poll(ctx)
	case h.spec.Mode == ModeLongPoll:
		o.Kind, o.At, err = w.longPoll(ctx)
	case h.spec.Mode == ModeSSE:
		o.Kind, o.At, err = w.sse(ctx)
	default:
		err = fmt.Errorf("unknown mode %q", h.spec.Mode)
	}
	o.Requests, o.Rejected = w.requests, w.rejected
	if err != nil {
		o.Kind, o.Err = Errored, errKind(err)
		if o.At.IsZero() {
			o.At = time.Now()
		}
	}
	return o
}

// waiter is the state one waiter's mode loop works with.
type waiter struct {
	job      string
	start    time.Time
	deadline time.Time // the waiter's own budget ends
	interval time.Duration
	d        *dialer
	c        *conn // nil between a closed connection and the next request
	requests int
	rejected int
}

// request sends one GET on the waiter's connection, dialling again when the
// previous answer closed it.
func (w *waiter) request(ctx context.Context, path, extra string, deadline time.Time) (*http.Response, error) {
	if w.c != nil && !w.c.reusable {
		w.c.close()
		w.c = nil
	}
	if w.c == nil {
		c, err := w.d.dial(ctx)
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		w.c = c
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	w.requests++
	resp, err := w.c.get(path, extra, deadline)
	if err != nil {
		w.c.close()
		w.c = nil
	}
	return resp, err
}

// answer is the part of a status body (SPEC.md §3) a waiter looks at.
type answer struct {
	Status          string            `json:"status"`
	TimedOut        bool              `json:"timedOut"`
	Recommendations []json.RawMessage `json:"recommendations"`
	Code            string            `json:"code"`
}

// judge reads a status answer: done says the wait is over, with the kind or
// the error.
func judge(code int, body []byte) (a answer, done bool, kind Kind, err error) {
	if jerr := json.Unmarshal(body, &a); jerr != nil {
		return a, true, Errored, fmt.Errorf("http %d: unreadable body", code)
	}
	if code != http.StatusOK {
		return a, true, Errored, fmt.Errorf("http %d %s", code, a.Code)
	}
	switch a.Status {
	case "COMPLETED":
		if len(a.Recommendations) == 0 {
			return a, true, Errored, fmt.Errorf("COMPLETED without recommendations")
		}
		return a, true, Delivered, nil
	case "FAILED":
		return a, true, Errored, fmt.Errorf("job FAILED")
	case "PENDING", "PROCESSING":
		return a, false, "", nil
	}
	return a, true, Errored, fmt.Errorf("status %.20q", a.Status)
}

// sleepUntil waits until t or the context ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// statusPath is the job's status URL path (SPEC.md §3).
func statusPath(job string) string { return "/api/events/jobs/" + job + "/status" }

// errKind shortens an error to something that can be counted: addresses
// and ports, which differ per connection, are cut.
func errKind(err error) string {
	s := err.Error()
	for _, cut := range []string{"dial tcp ", "read tcp ", "write tcp "} {
		if i := strings.Index(s, cut); i >= 0 {
			if j := strings.LastIndex(s, ": "); j > i {
				s = s[:i] + strings.TrimSpace(cut) + s[j:]
			}
		}
	}
	return s
}
