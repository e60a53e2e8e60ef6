package waiter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"jobwait/server/sse"
)

// manyStreamPath is the many-job stream's URL path (SPEC.md §8).
func manyStreamPath(jobs []string) string {
	return "/api/events/jobs/stream?ids=" + strings.Join(jobs, ",")
}

// runMany holds waiters [first, first+n) on one many-job stream: one
// connection, one outcome per waiter. Waiters of the same job share its
// events (the ids of a stream are distinct).
func (h *Holder) runMany(ctx context.Context, first, n int) []Outcome {
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
	w := h.newWaiter("")
	if err := h.mint(w, jobs...); err != nil {
		return fail(err.Error())
	}
	c, release, err := h.connect(ctx, n)
	if err != nil {
		return fail("dial: " + errKind(err))
	}
	defer release()
	w.c = c
	defer w.hangUp()
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
			out[k].Kind, out[k].Asked, out[k].At, out[k].Err = e.Kind, w.asked, e.At, e.Err
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
	err := w.follow(ctx, manyStreamPath(jobs), true, func(ev sse.Event, at time.Time) (bool, error) {
		var who struct {
			JobID string `json:"jobId"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &who); err != nil || who.JobID == "" {
			return false, fmt.Errorf("event %.20q without a jobId", ev.Type)
		}
		e := end{At: at}
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
		body, _, err := w.c.readBody(resp)
		if err == nil {
			_, _, _, err = judge(resp.StatusCode, body)
		}
		return err
	})
	return ends, err
}
