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

// Start launches every waiter at once (one goroutine per stream in
// ModeSSEMany); the dialer paces the connections.
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
	per := 1
	if h.spec.Mode == ModeSSEMany {
		per = max(1, h.spec.JobsPerConn)
	}
	for n := 0; n < h.spec.Count; n += per {
		k := min(per, h.spec.Count-n)
		go func() {
			for j, o := range h.hold(ctx, h.spec.First+n, k) {
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

// hold holds waiters [first, first+n) on one connection, from its dial to
// their outcomes: one waiter, or the waits of a many-job stream. Waiters of
// the same job share its events (the ids of a stream are distinct).
func (h *Holder) hold(ctx context.Context, first, n int) []Outcome {
	out := make([]Outcome, n)
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
	fail := func(why string) []Outcome {
		for k := range out {
			out[k].Kind, out[k].Err, out[k].At = Errored, why, time.Now()
		}
		return out
	}
	w := &waiter{job: jobs[0], start: time.Now(), d: h.d, interval: h.spec.PollInterval}
	w.deadline = w.start.Add(h.spec.Budget)
	if len(h.spec.TokenSecret) > 0 {
		var err error
		if w.token, err = Token(h.spec.TokenSecret, jobs...); err != nil {
			return fail("mint a wait token: " + err.Error())
		}
	}
	c, err := h.d.dial(ctx)
	h.mu.Lock()
	h.counts.Started += n
	if err == nil {
		h.counts.Held += n
		h.counts.Peak = max(h.counts.Peak, h.counts.Held)
	}
	h.mu.Unlock()
	if err != nil {
		return fail("dial: " + errKind(err))
	}
	defer func() {
		h.mu.Lock()
		h.counts.Held -= n
		h.mu.Unlock()
	}()
	w.c = c
	defer w.hangUp()
	ends, err := h.wait(ctx, w, jobs)
	for id, ks := range at {
		e, ok := ends[id]
		if !ok {
			e = end{Kind: Errored, At: time.Now(), Err: "stream ended without the job's final event"}
			if err != nil {
				e.Err = errKind(err)
			}
		}
		for _, k := range ks {
			out[k].Kind, out[k].Asked, out[k].At, out[k].Err = e.Kind, w.asked, e.At, e.Err
		}
	}
	// A stream's requests are counted once, on its first waiter: the
	// report's requests per job are the connection's, shared.
	out[0].Requests, out[0].Rejected = w.requests, w.rejected
	return out
}

// end is how one job's wait ended.
type end struct {
	Kind Kind
	At   time.Time
	Err  string
}

// wait runs the spec's mode on w's connection: how each job's wait ended.
func (h *Holder) wait(ctx context.Context, w *waiter, jobs []string) (map[string]end, error) {
	var e end
	var err error
	switch {
	case h.spec.Mode == ModeSSEMany:
		return w.sseMany(ctx, jobs)
	case h.spec.Server == ServerNchan && h.spec.Mode == ModeSSE:
		e.Kind, e.At, err = w.nchanSSE(ctx)
	case h.spec.Server == ServerNchan && h.spec.Mode == ModeLongPoll:
		e.Kind, e.At, err = w.nchanLongPoll(ctx)
	case h.spec.Server == ServerNchan:
		err = fmt.Errorf("nchan has no %s mode", h.spec.Mode)
	case h.spec.Mode == ModePoll || h.spec.Mode == ModeLongPoll:
		e.Kind, e.At, err = w.status(ctx, h.spec.Mode == ModeLongPoll)
	case h.spec.Mode == ModeSSE:
		e.Kind, e.At, err = w.sse(ctx)
	default:
		err = fmt.Errorf("unknown mode %q", h.spec.Mode)
	}
	if err != nil {
		e.Kind, e.Err = Errored, errKind(err)
		if e.At.IsZero() {
			e.At = time.Now()
		}
	}
	return map[string]end{w.job: e}, nil
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
