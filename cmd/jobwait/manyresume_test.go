package main

// A many-job stream resumed on another replica with a list that is not
// the one it was opened with, or with an id that is not one jobwait wrote.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/server/sse"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
)

func manyStreamPath(ids []string) string {
	return "/api/events/jobs/stream?ids=" + strings.Join(ids, ",")
}

// manyEvents reads n events of a many-job stream, each with its job.
func manyEvents(t *testing.T, c *servertest.Conn, n int) []manyEvent {
	t.Helper()
	evs := make([]manyEvent, n)
	for i := range evs {
		evs[i] = newManyEvent(t, c.Event(t, 10*time.Second))
	}
	return evs
}

// manyEventsToEnd reads a many-job stream's events until it ends.
func manyEventsToEnd(t *testing.T, c *servertest.Conn) []manyEvent {
	t.Helper()
	var evs []manyEvent
	for _, ev := range c.EventsToEnd(t, 20*time.Second) {
		evs = append(evs, newManyEvent(t, ev))
	}
	return evs
}

// manyEvent is an event of a many-job stream and the job it is of.
type manyEvent struct {
	sse.Event
	job string
}

// String is the event in short, for failure messages: its bodies are long.
func (e manyEvent) String() string { return e.Type + " " + e.job + " " + e.ID }

func newManyEvent(t *testing.T, ev sse.Event) manyEvent {
	t.Helper()
	var b struct{ JobID string }
	require.NoError(t, json.Unmarshal([]byte(ev.Data), &b), "event %+v", ev)
	return manyEvent{Event: ev, job: b.JobID}
}

// idDeadline is the deadline (Unix ms) an event id carries.
func idDeadline(t *testing.T, id string) int64 {
	t.Helper()
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	require.NoError(t, err, "event id %q", id)
	return n
}

// finals counts the final events of each job.
func finals(evs []manyEvent) map[string]int {
	n := map[string]int{}
	for _, ev := range evs {
		if ev.Type != "status" {
			n[ev.job]++
		}
	}
	return n
}

// TestManyStreamResumedWithAnotherList: a many-job stream dropped on one
// replica is resumed on another with the list as a client may send it
// (reordered, a job added or removed, another list) or an id that is not
// one jobwait wrote (cut short, forged, a one-job stream's). The job that
// ended while the client was away always gets its final event; the one
// whose final event the client had gets it again unless the id proves,
// for that very set of ids, that the client has it. A readable id keeps
// the deadline; an unreadable one starts afresh, never sooner. The
// stream's last id answers 204 for its own list, in any order, and for no
// other.
func TestManyStreamResumedWithAnotherList(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	p := storetest.NewProducer(srv.Client(t), "many")
	rs := startReplicas(t, []string{srv.URL(), srv.URL()}, "JOBWAIT_HEARTBEAT=1s")

	tests := []struct {
		name   string
		list   func(had, away, running, added string) []string // the list the client comes back with
		id     func(last string) string                        // the id it comes back with
		proved bool                                            // the id proves the client has had's final event
		kept   bool                                            // the id is read: the deadline is kept
	}{
		{name: "the same list", proved: true, kept: true,
			list: func(h, a, r, _ string) []string { return []string{h, a, r} }},
		{name: "reordered", proved: true, kept: true,
			list: func(h, a, r, _ string) []string { return []string{r, h, a} }},
		{name: "reversed", proved: true, kept: true,
			list: func(h, a, r, _ string) []string { return []string{r, a, h} }},
		{name: "a job added", kept: true,
			list: func(h, a, r, n string) []string { return []string{h, a, r, n} }},
		{name: "a job added in front, reordered", kept: true,
			list: func(h, a, r, n string) []string { return []string{n, r, a, h} }},
		{name: "a running job removed", kept: true,
			list: func(h, a, _, _ string) []string { return []string{h, a} }},
		{name: "the ended job removed", kept: true,
			list: func(_, a, r, _ string) []string { return []string{a, r} }},
		{name: "one job replaced", kept: true,
			list: func(h, a, _, n string) []string { return []string{h, a, n} }},
		{name: "another list", kept: true,
			list: func(_, a, _, n string) []string { return []string{n, a} }},
		{name: "the id cut short",
			list: func(h, a, r, _ string) []string { return []string{h, a, r} },
			id:   func(last string) string { return last[:len(last)-3] }},
		{name: "the id's mask forged",
			list: func(h, a, r, _ string) []string { return []string{h, a, r} },
			id: func(last string) string {
				f := strings.Split(last, "-")
				f[2] = "7"
				return strings.Join(f, "-")
			}},
		{name: "a forged id",
			list: func(h, a, r, _ string) []string { return []string{h, a, r} },
			id:   func(string) string { return "99999999999999-1-7-00000000-00000000-end" }},
		{name: "a one-job stream's id",
			list: func(h, a, r, _ string) []string { return []string{h, a, r} },
			id:   func(last string) string { ms, _, _ := strings.Cut(last, "-"); return ms + "-9" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			had, away, running := p.Start(t, p.Create(t)), p.Start(t, p.Create(t)), p.Start(t, p.Create(t))
			added := p.Create(t)
			opened := []string{had.JobID, away.JobID, running.JobID}

			// On the first replica: every job's state, then had's final event.
			c := servertest.MustGet(t, rs[0].jw.Addr, manyStreamPath(opened))
			require.Equal(t, http.StatusOK, c.Resp.StatusCode)
			for _, ev := range manyEvents(t, c, 3) {
				require.Equal(t, "status", ev.Type, "%+v", ev)
			}
			require.NoError(t, p.Complete(context.Background(), had))
			ev := manyEvents(t, c, 1)[0]
			require.Equal(t, "completed", ev.Type)
			require.Equal(t, had.JobID, ev.job)
			last := ev.ID
			deadline := idDeadline(t, last)
			c.Close()

			// Away, away's job completes; the client comes back to the other.
			require.NoError(t, p.Complete(context.Background(), away))
			list := tt.list(had.JobID, away.JobID, running.JobID, added.JobID)
			id := last
			if tt.id != nil {
				id = tt.id(last)
			}
			c = servertest.MustGet(t, rs[1].jw.Addr, manyStreamPath(list), "Last-Event-ID: "+id)
			require.Equal(t, http.StatusOK, c.Resp.StatusCode, "Last-Event-ID %q for %v", id, list)
			first := len(list) // every job's state, had's only if not proved
			if tt.proved {
				first--
			}
			evs := manyEvents(t, c, first)
			for _, j := range []store.Job{running, added} {
				if slices.Contains(list, j.JobID) {
					require.NoError(t, p.Complete(context.Background(), j))
				}
			}
			evs = append(evs, manyEventsToEnd(t, c)...)

			want := map[string]int{} // final events: one a job, had's none if proved
			for _, j := range list {
				if !(tt.proved && j == had.JobID) {
					want[j] = 1
				}
			}
			assert.Equal(t, want, finals(evs), "final events resumed with %q for %v: %v", id, list, evs)
			end := evs[len(evs)-1].ID
			assert.True(t, strings.HasSuffix(end, "-end"), "last id %q", end)
			for _, ev := range evs {
				if tt.kept {
					assert.Equal(t, deadline, idDeadline(t, ev.ID), "id %q after %q: the deadline kept", ev.ID, id)
				} else { // afresh, one budget from the resume: never earlier
					assert.GreaterOrEqual(t, idDeadline(t, ev.ID), deadline, "id %q after %q: the deadline not cut short", ev.ID, id)
				}
			}

			// The last id: 204 for its own list, in any order; for any
			// other, every job's final event again.
			for _, j := range []store.Job{running, added} {
				if !slices.Contains(list, j.JobID) {
					require.NoError(t, p.Complete(context.Background(), j))
				}
			}
			for _, l := range [][]string{list, reversed(list)} {
				c = servertest.MustGet(t, rs[0].jw.Addr, manyStreamPath(l), "Last-Event-ID: "+end)
				assert.Equal(t, http.StatusNoContent, c.Resp.StatusCode, "%v after %q", l, end)
			}
			other := append(slices.Clone(list), had.JobID, away.JobID, running.JobID)
			slices.Sort(other)
			other = slices.Compact(other)
			if len(other) == len(list) {
				other = other[1:]
			}
			c = servertest.MustGet(t, rs[0].jw.Addr, manyStreamPath(other), "Last-Event-ID: "+end)
			require.Equal(t, http.StatusOK, c.Resp.StatusCode, "%v after %q, the last of %v", other, end, list)
			again := manyEventsToEnd(t, c)
			want = map[string]int{}
			for _, j := range other {
				want[j] = 1
			}
			assert.Equal(t, want, finals(again), "%v after %q, the last of %v: %v", other, end, list, again)
		})
	}
}

// TestManyStreamResumedWithAnIDTwice: a list naming a job twice is
// refused, resumed or not, however much its id proves: 400 REQ_001 naming
// the job, never a 204 that would end the client's wait.
func TestManyStreamResumedWithAnIDTwice(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	a, b := r.jobs.Start(t, r.jobs.Create(t)), r.jobs.Create(t)
	require.NoError(t, r.jobs.Complete(context.Background(), a))
	require.NoError(t, r.jobs.Complete(context.Background(), b))
	c := servertest.MustGet(t, r.jw.Addr, manyStreamPath([]string{a.JobID, b.JobID}))
	evs := manyEventsToEnd(t, c)
	require.Len(t, evs, 2)
	end := evs[1].ID
	require.True(t, strings.HasSuffix(end, "-end"), "last id %q", end)

	for _, list := range [][]string{{a.JobID, b.JobID, a.JobID}, {b.JobID, b.JobID}} {
		code, _, body, err := getJSON(r.http, r.jw.URL()+manyStreamPath(list)+"&lastEventId="+end)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadRequest, code, "%v after %q", list, end)
		assert.Equal(t, "REQ_001", body["code"], "%v", list)
		assert.Contains(t, body["message"], list[len(list)-1], "%v: the job listed twice is named", list)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
