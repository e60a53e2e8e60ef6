package waiter

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Spec is one process's share of a mode's waiters. Waiter i, for i in
// [First, First+Count), watches job Jobs[i mod len(Jobs)]. It travels to
// holder processes as JSON.
type Spec struct {
	Mode            Mode          `json:"mode"`
	Server          string        `json:"server,omitempty"` // ServerJobwait ("" too) or ServerNchan
	Target          string        `json:"target"`
	CACert          string        `json:"caCert,omitempty"` // -ca-cert: a PEM file of CAs to trust for https
	Jobs            []string      `json:"jobs"`
	First           int           `json:"first"`
	Count           int           `json:"count"`
	Budget          time.Duration `json:"budget"`
	PollInterval    time.Duration `json:"pollInterval"`
	Sources         int           `json:"sources"`
	DialConcurrency int           `json:"dialConcurrency"`
	Deadline        time.Time     `json:"deadline"`    // nothing outlives it
	JobsPerConn     int           `json:"jobsPerConn"` // ModeSSEMany: waits per stream
	// TokenSecret, if set, is jobwait's JOBWAIT_AUTH_SECRET: each waiter
	// (each many-job stream) sends a wait token of its jobs minted with it
	// (Token). It travels to holder processes on their stdin, never in
	// their arguments.
	TokenSecret []byte `json:"tokenSecret,omitempty"`
}

// Holder holds a share of waiters in this process: one goroutine each,
// started by Start and all finished when Wait returns.
type Holder struct {
	spec Spec
	d    *dialer
	out  []Outcome // index i-First, written once by waiter i

	mu     sync.Mutex
	counts Counts

	wg sync.WaitGroup
}

// NewHolder checks the spec; nothing runs until Start.
func NewHolder(spec Spec) (*Holder, error) {
	t, err := ParseTarget(spec.Target, spec.CACert)
	if err != nil {
		return nil, err
	}
	return &Holder{
		spec: spec,
		d:    newDialer(t, spec.Sources, spec.DialConcurrency, spec.First),
		out:  make([]Outcome, spec.Count),
	}, nil
}

// Start launches every waiter at once; the dialer paces the connections.
func (h *Holder) Start(ctx context.Context) {
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
func (h *Holder) startMany(ctx context.Context, all *sync.WaitGroup) {
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
func (h *Holder) record(n int, o Outcome) {
	h.out[n] = o
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts.Done++
	switch o.Kind {
	case Delivered:
		h.counts.Delivered++
	case Failed:
		h.counts.Failed++
	case TimedOut:
		h.counts.TimedOut++
	default:
		h.counts.Errors++
	}
}

// Wait returns every waiter's outcome once all are done; a holder in this
// process has no error of its own.
func (h *Holder) Wait() ([]Outcome, error) {
	h.wg.Wait()
	return h.out, nil
}

// Counts is the holder's progress so far.
func (h *Holder) Counts() Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts
}

// connect opens the first connection of n waiters (one, or the waits of a
// many-job stream) and counts them held; release counts them no longer held.
func (h *Holder) connect(ctx context.Context, n int) (c *conn, release func(), err error) {
	c, err = h.d.dial(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts.Started += n
	if err != nil {
		return nil, nil, err
	}
	h.counts.Held += n
	h.counts.Peak = max(h.counts.Peak, h.counts.Held)
	return c, func() {
		h.mu.Lock()
		h.counts.Held -= n
		h.mu.Unlock()
	}, nil
}

// run is one waiter from its first connection to its outcome.
func (h *Holder) run(ctx context.Context, i int) Outcome {
	job := h.spec.Jobs[i%len(h.spec.Jobs)]
	w := h.newWaiter(job)
	o := Outcome{Job: i % len(h.spec.Jobs)}
	if err := h.mint(w, job); err != nil {
		o.Kind, o.Err, o.At = Errored, err.Error(), time.Now()
		return o
	}
	c, release, err := h.connect(ctx, 1)
	if err != nil {
		o.Kind, o.Err, o.At = Errored, "dial: "+errKind(err), time.Now()
		return o
	}
	defer release()
	w.c = c
	defer w.hangUp()
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
	o.Asked, o.Requests, o.Rejected = w.asked, w.requests, w.rejected
	if err != nil {
		o.Kind, o.Err = Errored, errKind(err)
		if o.At.IsZero() {
			o.At = time.Now()
		}
	}
	return o
}

// newWaiter is a waiter for job (none for a many-job stream) whose budget
// starts now.
func (h *Holder) newWaiter(job string) *waiter {
	w := &waiter{job: job, start: time.Now(), d: h.d, interval: h.spec.PollInterval}
	w.deadline = w.start.Add(h.spec.Budget)
	return w
}

// mint gives w the wait token of jobs, when the spec has a secret.
func (h *Holder) mint(w *waiter, jobs ...string) error {
	if len(h.spec.TokenSecret) == 0 {
		return nil
	}
	var err error
	if w.token, err = Token(h.spec.TokenSecret, jobs...); err != nil {
		return fmt.Errorf("mint a wait token: %w", err)
	}
	return nil
}

// waiter is the state one waiter's mode loop works with.
type waiter struct {
	job      string
	token    string // the wait token sent with every request; "" none
	start    time.Time
	deadline time.Time // the waiter's own budget ends
	interval time.Duration
	d        *dialer
	c        *conn     // nil between a closed connection and the next request
	asked    time.Time // the first request sent
	requests int
	rejected int
}

// request sends one GET on the waiter's connection, dialling again when the
// previous answer closed it.
func (w *waiter) request(ctx context.Context, path, extra string, deadline time.Time) (*http.Response, error) {
	if w.c != nil && !w.c.reusable {
		w.hangUp()
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
	if w.requests++; w.requests == 1 {
		w.asked = time.Now()
	}
	path, extra = w.withToken(path, extra)
	resp, err := w.c.get(path, extra, deadline)
	if err != nil {
		w.hangUp()
	}
	return resp, err
}

// hangUp closes the waiter's connection, if it has one.
func (w *waiter) hangUp() {
	if w.c != nil {
		w.c.close()
		w.c = nil
	}
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
