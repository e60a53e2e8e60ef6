package waiter

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Spec is one process's share of a mode's waiters, sent to holder processes
// as JSON. Waiter i, First ≤ i < First+Count, watches Jobs[i mod len(Jobs)].
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
	// TokenSecret, if set, is jobwait's JOBWAIT_AUTH_SECRET: each waiter (each
	// many-job stream) sends a token of its jobs minted with it. It reaches
	// holder processes on their stdin, never in their arguments.
	TokenSecret []byte `json:"tokenSecret,omitempty"`
}

// Holder holds a share of waiters in this process: one goroutine each,
// started by Start and all finished when Wait returns.
type Holder struct {
	spec   Spec
	t      Target
	next   atomic.Uint64 // picks the source address of each dial
	dials  chan struct{} // a slot per dial in flight
	out    []Outcome     // index i-First, written by waiter i's goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	counts Counts
}

// NewHolder checks the spec; nothing runs until Start.
func NewHolder(spec Spec) (*Holder, error) {
	t, err := ParseTarget(spec.Target, spec.CACert)
	if err != nil {
		return nil, err
	}
	h := &Holder{spec: spec, t: t, dials: make(chan struct{}, spec.DialConcurrency),
		out: make([]Outcome, spec.Count), cancel: func() {}}
	h.next.Store(uint64(spec.First))
	return h, nil
}

// Start launches every waiter (every stream in ModeSSEMany) at once; the
// dials in flight are bounded.
func (h *Holder) Start(ctx context.Context) {
	if !h.spec.Deadline.IsZero() {
		ctx, h.cancel = context.WithDeadline(ctx, h.spec.Deadline)
	}
	per := 1
	if h.spec.Mode == ModeSSEMany {
		per = max(1, h.spec.JobsPerConn)
	}
	for n := 0; n < h.spec.Count; n += per {
		h.wg.Go(func() { h.hold(ctx, h.out[n:min(n+per, h.spec.Count)], h.spec.First+n) })
	}
}

// Wait returns every waiter's outcome once all are done; its error is always
// nil (a holder process's may not be).
func (h *Holder) Wait() ([]Outcome, error) {
	h.wg.Wait()
	h.cancel()
	return h.out, nil
}

// Counts is the holder's progress so far.
func (h *Holder) Counts() Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts
}

// hold holds the waiters of out (waiter first and those after it) on one
// connection, from its dial to their outcomes, and counts them: one waiter,
// or the waits of a many-job stream. Waiters of the same job share its events.
func (h *Holder) hold(ctx context.Context, out []Outcome, first int) {
	var jobs []string // distinct
	for k := range out {
		out[k].Job = (first + k) % len(h.spec.Jobs)
		if id := h.spec.Jobs[out[k].Job]; !slices.Contains(jobs, id) {
			jobs = append(jobs, id)
		}
	}
	w := &waiter{h: h, job: jobs[0], start: time.Now()}
	w.deadline = w.start.Add(h.spec.Budget)
	ends, err := h.wait(ctx, w, jobs, len(out))
	for k, o := range out {
		e, ok := ends[h.spec.Jobs[o.Job]]
		if !ok {
			e = Outcome{Kind: Errored, At: time.Now(), Err: "stream ended without the job's final event"}
			if err != nil {
				e.Err = errKind(err)
			}
		}
		out[k].Kind, out[k].Asked, out[k].At, out[k].Err = e.Kind, w.asked, e.At, e.Err
	}
	// A stream's requests are counted once, on its first waiter: the
	// report's requests per job are the connection's, shared.
	out[0].Requests, out[0].Rejected = w.requests, w.rejected
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range out {
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
}

// wait connects w, its n waits counted as started and, connected, as held
// until they end, and runs the spec's mode: how each job's wait ended (Kind,
// At and Err of an Outcome).
func (h *Holder) wait(ctx context.Context, w *waiter, jobs []string, n int) (map[string]Outcome, error) {
	if len(h.spec.TokenSecret) > 0 {
		var err error
		if w.token, err = Token(h.spec.TokenSecret, jobs...); err != nil {
			return nil, fmt.Errorf("mint a wait token: %w", err)
		}
	}
	err := w.connect(ctx)
	h.mu.Lock()
	h.counts.Started += n
	if err == nil {
		h.counts.Held += n
		h.counts.Peak = max(h.counts.Peak, h.counts.Held)
	}
	h.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	defer func() {
		h.mu.Lock()
		h.counts.Held -= n
		h.mu.Unlock()
	}()
	defer w.hangUp()
	var e Outcome
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
	return map[string]Outcome{w.job: e}, nil
}
