package server_test

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/stream/streamtest"
)

// manyStreamPath and manyStatusPath are the many-job URLs of ids.
func manyStreamPath(ids ...string) string {
	return "/api/events/jobs/stream?ids=" + strings.Join(ids, ",")
}
func manyStatusPath(ids ...string) string {
	return "/api/events/jobs/status?ids=" + strings.Join(ids, ",")
}

// manyDeadline is the deadline a many-job stream's event id carries.
func manyDeadline(t *testing.T, id string) time.Time {
	t.Helper()
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	require.NoError(t, err, "event id %q", id)
	return time.UnixMilli(n)
}

// openManySSE opens a many-job stream and checks its head and retry line.
func openManySSE(t *testing.T, e *pushEnv, path string, header ...string) *servertest.Conn {
	t.Helper()
	c := e.get(t, path, header...)
	require.Equal(t, 200, c.Resp.StatusCode)
	assert.Contains(t, c.Resp.Header.Get("Content-Type"), "text/event-stream")
	assert.Equal(t, "no", c.Resp.Header.Get("X-Accel-Buffering"))
	ev, err := c.Block(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, "retry: 2000", ev.Raw())
	return c
}

// manyEvent reads the next event and checks its name and job.
func manyEvent(t *testing.T, c *servertest.Conn, d time.Duration, name, jobID string) (servertest.Block, map[string]any) {
	t.Helper()
	ev := c.Next(t, d)
	b := requireSSEEvent(t, ev, name, ev.ID)
	require.Equal(t, jobID, b["jobId"], "event %q", ev.Raw())
	return ev, b
}

// running creates a PROCESSING job.
func (e *pushEnv) running(t *testing.T) store.Job {
	t.Helper()
	j := e.jobs.Create(t)
	j, err := e.st.Start(context.Background(), j)
	require.NoError(t, err)
	return j
}

func (e *pushEnv) complete(t *testing.T, j store.Job) {
	t.Helper()
	_, err := e.st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)
}

// noContent requires a 204 with no body.
func noContent(t *testing.T, e *pushEnv, path string, header ...string) {
	t.Helper()
	c := e.get(t, path, header...)
	assert.Equal(t, 204, c.Resp.StatusCode, "%s %v", path, header)
	r := readAll(c, 5*time.Second)
	require.NoError(t, r.err)
	assert.Empty(t, r.body)
}

func TestManyStreamAcrossReconnects(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	a, b := e.running(t), e.jobs.Create(t)
	unknown := e.jobs.ID()
	ids := []string{a.JobID, unknown, b.JobID}
	path := manyStreamPath(ids...)
	start := time.Now()
	c := openManySSE(t, e, path)

	ev, body := manyEvent(t, c, 5*time.Second, "status", a.JobID)
	assert.Equal(t, "PROCESSING", body["status"])
	deadline := manyDeadline(t, ev.ID)
	assert.WithinDuration(t, start.Add(server.DefaultWaitBudget), deadline, time.Second, "the id carries the stream's deadline")
	assert.Equal(t, server.ManyEventID(deadline, 1, ids, false), ev.ID)
	ev, body = manyEvent(t, c, 5*time.Second, "problem", unknown)
	assert.Equal(t, "JOB_001", body["code"], "an unknown job is its own problem; the others go on")
	assert.Equal(t, server.ManyEventID(deadline, 2, ids, false, unknown), ev.ID, "the id marks the unknown job ended")
	_, body = manyEvent(t, c, 5*time.Second, "status", b.JobID)
	assert.Equal(t, "PENDING", body["status"])
	e.waiters(t, 2) // the unknown job has ended: its waiter is let go

	_, err := e.st.Start(context.Background(), b)
	require.NoError(t, err)
	_, body = manyEvent(t, c, answeredBound, "status", b.JobID)
	assert.Equal(t, "PROCESSING", body["status"])

	e.complete(t, a)
	ev, body = manyEvent(t, c, answeredBound, "completed", a.JobID)
	assert.Len(t, body["recommendations"], 3)
	assert.Equal(t, server.ManyEventID(deadline, 5, ids, false, unknown, a.JobID), ev.ID)
	last := ev.ID

	// The connection drops; b fails meanwhile. The reconnect resends none
	// of what the client had and loses b's final state.
	c.Close()
	notes := e.hub.Stats().Notifications
	_, err = e.st.Fail(context.Background(), b, "모델 오류")
	require.NoError(t, err)
	// The reconnect comes after the hub has heard of the failure (its error
	// key, then its record), as it does but for a client that races its
	// own producer: else its first event for b could be the status the hub
	// knew, then the failure.
	streamtest.Eventually(t, 5*time.Second, "the failure's notifications heard",
		func() bool { return e.hub.Stats().Notifications >= notes+2 })
	c = openManySSE(t, e, path, "Last-Event-ID: "+last)
	ev, body = manyEvent(t, c, 5*time.Second, "failed", b.JobID)
	assert.Equal(t, "모델 오류", body["error"])
	assert.Equal(t, server.ManyEventID(deadline, 6, ids, true, ids...), ev.ID, "same deadline, every job ended")
	c.Ended(t, 5*time.Second)
	e.waiters(t, 0)

	// Every job had ended: 204, from the header or the query.
	noContent(t, e, path, "Last-Event-ID: "+ev.ID)
	noContent(t, e, path+"&lastEventId="+url.QueryEscape(ev.ID))
	noContent(t, e, path+"&lastEventId="+strings.TrimSuffix(ev.ID, "-end"))

	// The query resumes as the header does: only what is missing.
	c = openManySSE(t, e, path+"&lastEventId="+last)
	manyEvent(t, c, 5*time.Second, "failed", b.JobID)
	c.Ended(t, 5*time.Second)
}

func TestManyStreamDeadline(t *testing.T) {
	const budget = 2 * time.Second
	e := newPushEnv(t, pushOpts{cfg: server.Config{WaitBudget: budget, Heartbeat: time.Second}})
	a, b, done := e.running(t), e.running(t), e.running(t)
	ids := []string{a.JobID, b.JobID, done.JobID}
	path := manyStreamPath(ids...)
	start := time.Now()
	c := openManySSE(t, e, path)
	ev, _ := manyEvent(t, c, 5*time.Second, "status", a.JobID)
	manyEvent(t, c, 5*time.Second, "status", b.JobID)
	manyEvent(t, c, 5*time.Second, "status", done.JobID)
	deadline := manyDeadline(t, ev.ID)
	e.complete(t, done)
	ev, _ = manyEvent(t, c, answeredBound, "completed", done.JobID)
	c.Close()

	// A reconnect keeps the deadline: both jobs still running time out at
	// it, each with its own timeout event, the last one ending the stream.
	c = openManySSE(t, e, path, "Last-Event-ID: "+ev.ID)
	ev, _ = manyEvent(t, c, 5*time.Second, "status", a.JobID)
	assert.Equal(t, server.ManyEventID(deadline, 5, ids, false, done.JobID), ev.ID, "the same deadline, the sequence goes on, done stays ended")
	manyEvent(t, c, 5*time.Second, "status", b.JobID)
	ev, body := manyEvent(t, c, budget+5*time.Second, "timeout", a.JobID)
	assert.Equal(t, true, body["timedOut"])
	assert.Equal(t, "PROCESSING", body["status"])
	assert.False(t, ev.At.Before(deadline.Add(-50*time.Millisecond)), "ended %v before its deadline", deadline.Sub(ev.At))
	assert.Less(t, ev.At.Sub(deadline), 700*time.Millisecond, "ended late")
	ev, _ = manyEvent(t, c, time.Second, "timeout", b.JobID)
	assert.Equal(t, server.ManyEventID(deadline, 8, ids, true, ids...), ev.ID)
	c.Ended(t, 5*time.Second)
	noContent(t, e, path, "Last-Event-ID: "+ev.ID)
	t.Logf("stream of 3 jobs: deadline %v after its start", deadline.Sub(start))

	// A forged id buys no more than one budget, whether it is read or not.
	far := time.UnixMilli(99999999999999)
	for _, forged := range []string{"99999999999999-1-0", server.ManyEventID(far, 1, ids, false)} {
		start = time.Now()
		c = openManySSE(t, e, path+"&lastEventId="+forged)
		ev, _ = manyEvent(t, c, 5*time.Second, "status", a.JobID)
		assert.WithinDuration(t, start.Add(budget), manyDeadline(t, ev.ID), 200*time.Millisecond, "after %q", forged)
	}
}

// TestManyStreamAtTheLastSequence: resumed near the largest sequence, a
// many-job stream's ids stop there rather than wrap to 0, and a resume
// from one of them still proves what it says: the job the client has is
// not sent again, the one it has not is.
func TestManyStreamAtTheLastSequence(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	a, b, done := e.running(t), e.running(t), e.running(t)
	e.complete(t, done)
	ids := []string{a.JobID, b.JobID, done.JobID}
	path := manyStreamPath(ids...)
	deadline := time.Now().Add(server.DefaultWaitBudget / 2).Truncate(time.Millisecond)

	c := openManySSE(t, e, path, "Last-Event-ID: "+server.ManyEventID(deadline, math.MaxUint64-1, ids, false, done.JobID))
	ev, _ := manyEvent(t, c, 5*time.Second, "status", a.JobID)
	assert.Equal(t, server.ManyEventID(deadline, math.MaxUint64, ids, false, done.JobID), ev.ID)
	ev, _ = manyEvent(t, c, 5*time.Second, "status", b.JobID)
	assert.Equal(t, server.ManyEventID(deadline, math.MaxUint64, ids, false, done.JobID), ev.ID, "the sequence stops at its top")
	e.complete(t, a)
	ev, _ = manyEvent(t, c, answeredBound, "completed", a.JobID)
	assert.Equal(t, server.ManyEventID(deadline, math.MaxUint64, ids, false, done.JobID, a.JobID), ev.ID)
	c.Close()

	// Resumed from the top: only b, the one job not had.
	c = openManySSE(t, e, path, "Last-Event-ID: "+ev.ID)
	ev, _ = manyEvent(t, c, 5*time.Second, "status", b.JobID)
	assert.Equal(t, server.ManyEventID(deadline, math.MaxUint64, ids, false, done.JobID, a.JobID), ev.ID)
	e.complete(t, b)
	ev, _ = manyEvent(t, c, answeredBound, "completed", b.JobID)
	assert.Equal(t, server.ManyEventID(deadline, math.MaxUint64, ids, true, ids...), ev.ID)
	c.Ended(t, 5*time.Second)
	noContent(t, e, path, "Last-Event-ID: "+ev.ID)
}

func TestManyBadRequests(t *testing.T) {
	e := newPushEnv(t, pushOpts{cfg: server.Config{MaxIDs: 4, MaxWaiters: 1}})
	ok := e.jobs.Create(t).JobID
	for _, route := range []func(...string) string{manyStreamPath, manyStatusPath} {
		tests := []struct {
			path, code, names string
		}{
			{route(ok, "bad:id"), "JOB_002", `"bad:id"`},
			{route(ok, ""), "JOB_002", `""`},
			{route("a", "b", "c", "d", "e"), "REQ_001", "4"},
			{strings.TrimSuffix(route(), "?ids="), "REQ_001", "ids"},
			{route(ok, ok), "REQ_001", ok},
		}
		for _, tt := range tests {
			r := recvReply(t, e.longPoll(tt.path, 5*time.Second), 6*time.Second)
			assert.Equal(t, 400, r.code, tt.path)
			b := decodeBody(t, r.body)
			assert.Equal(t, tt.code, b["code"], tt.path)
			assert.Contains(t, b["message"], tt.names, tt.path)
		}
	}
	assert.Equal(t, 400, recvReply(t, e.longPoll(manyStatusPath(ok)+"&wait=soon", 5*time.Second), 6*time.Second).code)
	for _, path := range []string{manyStatusPath(ok), manyStreamPath(ok)} {
		resp, err := http.Post("http://"+e.addr+path, "text/plain", nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 405, resp.StatusCode, "POST %s", path)
		assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"), "POST %s", path)
	}

	// A many-job stream is one held waiter, whatever its length.
	c := openManySSE(t, e, manyStreamPath(ok, e.jobs.ID(), e.jobs.Create(t).JobID))
	c.Next(t, 5*time.Second)
	r := recvReply(t, e.longPoll(manyStreamPath(ok), 5*time.Second), 6*time.Second)
	assert.Equal(t, 503, r.code)
	assert.Equal(t, "SVC_001", decodeBody(t, r.body)["code"])
	// A batched short poll holds nothing.
	assert.Equal(t, 200, recvReply(t, e.longPoll(manyStatusPath(ok), 5*time.Second), 6*time.Second).code)
}

// manyJobs decodes a many-job status body.
func manyJobs(t *testing.T, body []byte) (jobs []map[string]any, timedOut bool) {
	t.Helper()
	b := decodeBody(t, body)
	raw, ok := b["jobs"].([]any)
	require.True(t, ok, "body %s", body)
	for _, j := range raw {
		jobs = append(jobs, j.(map[string]any))
	}
	timedOut, _ = b["timedOut"].(bool)
	return jobs, timedOut
}

func TestManyLongPoll(t *testing.T) {
	const budget = 2 * time.Second
	e := newPushEnv(t, pushOpts{cfg: server.Config{WaitBudget: budget}})

	t.Run("answered when one is final", func(t *testing.T) {
		t.Parallel()
		a, b := e.running(t), e.jobs.Create(t)
		unknown := e.jobs.ID()
		lp := e.longPoll(manyStatusPath(a.JobID, b.JobID, unknown)+"&wait=30", 10*time.Second)
		// The unknown job is not final enough to answer: it is a problem,
		// which counts as final. Answered at once, with every body.
		r := recvReply(t, lp, answeredBound)
		assert.Equal(t, 200, r.code)
		assert.Equal(t, "no-store", r.hdr.Get("Cache-Control"))
		jobs, timedOut := manyJobs(t, r.body)
		assert.False(t, timedOut)
		require.Len(t, jobs, 3)
		assert.Equal(t, "PROCESSING", jobs[0]["status"])
		assert.Equal(t, "PENDING", jobs[1]["status"])
		assert.Equal(t, map[string]any{"jobId": unknown, "code": "JOB_001", "message": "Job을 찾을 수 없습니다"}, jobs[2])

		lp = e.longPoll(manyStatusPath(a.JobID, b.JobID)+"&wait=30", 10*time.Second)
		e.waiters(t, 2)
		wrote := time.Now()
		e.complete(t, b)
		r = recvReply(t, lp, answeredBound)
		t.Logf("answered %v after the write", r.at.Sub(wrote))
		jobs, timedOut = manyJobs(t, r.body)
		assert.False(t, timedOut)
		require.Len(t, jobs, 2)
		assert.Equal(t, a.JobID, jobs[0]["jobId"])
		assert.Equal(t, "PROCESSING", jobs[0]["status"])
		assert.Equal(t, b.JobID, jobs[1]["jobId"])
		assert.Equal(t, "COMPLETED", jobs[1]["status"])
		assert.Equal(t, "2", r.hdr.Get("Retry-After"), "a job is still running")

		// One already final: at once.
		r = recvReply(t, e.longPoll(manyStatusPath(a.JobID, b.JobID)+"&wait=30", 5*time.Second), answeredBound)
		jobs, _ = manyJobs(t, r.body)
		assert.Equal(t, "COMPLETED", jobs[1]["status"])
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		a, b := e.running(t), e.running(t)
		start := time.Now()
		r := recvReply(t, e.longPoll(manyStatusPath(a.JobID, b.JobID)+"&wait=1s", 5*time.Second), 6*time.Second)
		assert.False(t, r.at.Before(start.Add(time.Second-50*time.Millisecond)), "answered early")
		assert.Less(t, r.at.Sub(start), time.Second+700*time.Millisecond, "answered late")
		jobs, timedOut := manyJobs(t, r.body)
		assert.True(t, timedOut)
		assert.Len(t, jobs, 2)
		assert.Equal(t, "2", r.hdr.Get("Retry-After"))
	})
	t.Run("short poll", func(t *testing.T) {
		t.Parallel()
		a, b := e.running(t), e.running(t)
		e.complete(t, b)
		r := recvReply(t, e.longPoll(manyStatusPath(b.JobID, a.JobID), 5*time.Second), 6*time.Second)
		jobs, timedOut := manyJobs(t, r.body)
		assert.False(t, timedOut)
		require.Len(t, jobs, 2)
		assert.Equal(t, "COMPLETED", jobs[0]["status"])
		assert.Equal(t, "PROCESSING", jobs[1]["status"])
		assert.Equal(t, "2", r.hdr.Get("Retry-After"))
		r = recvReply(t, e.longPoll(manyStatusPath(b.JobID), 5*time.Second), 6*time.Second)
		assert.Empty(t, r.hdr.Get("Retry-After"), "all final")
	})
}

func TestLastEventIDQueryOnOneJobStream(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	j := e.running(t)
	noContent(t, e, jobStreamPath(j.JobID)+"?lastEventId=1-1-end")
	// The header wins over the query.
	c := openSSE(t, e, j.JobID, "Last-Event-ID: 99999999999999-4")
	_, seq, _ := splitEventID(t, c.Next(t, 5*time.Second).ID)
	assert.Equal(t, 5, seq)
	c = e.get(t, jobStreamPath(j.JobID)+"?lastEventId="+url.QueryEscape("99999999999999-8"))
	require.Equal(t, 200, c.Resp.StatusCode)
	c.Next(t, 5*time.Second) // retry
	_, seq, _ = splitEventID(t, c.Next(t, 5*time.Second).ID)
	assert.Equal(t, 9, seq)
}

// TestReconnectLongPastItsDeadline: a stream resumed after its deadline has
// passed, by more than the response's write grace too (a client that
// reconnects late, after a replica went away), is still answered, at once:
// a final job's final event, a running one's timeout, and a clean end.
func TestReconnectLongPastItsDeadline(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	running, done := e.running(t), e.running(t)
	e.complete(t, done)
	pastT := time.Now().Add(-time.Minute)
	past := strconv.FormatInt(pastT.UnixMilli(), 10)

	for _, tc := range []struct {
		job  store.Job
		want string
	}{{running, "timeout"}, {done, "completed"}} {
		c := openSSE(t, e, tc.job.JobID, "Last-Event-ID: "+past+"-3")
		ev := c.Event(t, 5*time.Second)
		if ev.Type == "status" {
			ev = c.Event(t, 5*time.Second)
		}
		assert.Equal(t, tc.want, ev.Type, "%s", tc.job.JobID)
		assert.True(t, strings.HasPrefix(ev.ID, past+"-") && strings.HasSuffix(ev.ID, "-end"), "the original deadline, last: %q", ev.ID)
		assert.Equal(t, tc.job.JobID, decodeBody(t, []byte(ev.Data))["jobId"])
		r := readAll(c, 5*time.Second)
		require.NoError(t, r.err, "the stream ends cleanly after its last event")
	}

	ids := []string{running.JobID, done.JobID}
	c := e.get(t, manyStreamPath(ids...), "Last-Event-ID: "+server.ManyEventID(pastT, 2, ids, false))
	require.Equal(t, 200, c.Resp.StatusCode)
	got := map[string]string{} // each job's last event
	for i := 0; i < 4 && (len(got) < 2 || got[running.JobID] == "status"); i++ {
		ev := c.Event(t, 5*time.Second)
		got[decodeBody(t, []byte(ev.Data))["jobId"].(string)] = ev.Type
	}
	assert.Equal(t, map[string]string{running.JobID: "timeout", done.JobID: "completed"}, got)
	r := readAll(c, 5*time.Second)
	require.NoError(t, r.err, "the stream ends cleanly after its last event")
}

// TestRepeatedParameters pins README's rule: a parameter given more than
// once counts once, as first given, and an empty wait is a short poll.
func TestRepeatedParameters(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	a, b := e.running(t), e.running(t)
	e.complete(t, a)

	start := time.Now()
	r := recvReply(t, e.longPoll(jobStatusPath(b.JobID)+"?wait=1&wait=abc", 5*time.Second), 6*time.Second)
	assert.Equal(t, 200, r.code, "%s", r.body)
	assert.Equal(t, true, decodeBody(t, r.body)["timedOut"], "held for the first wait, 1 s")
	assert.GreaterOrEqual(t, time.Since(start), time.Second)

	r = recvReply(t, e.longPoll(jobStatusPath(b.JobID)+"?wait=", 5*time.Second), 6*time.Second)
	assert.Equal(t, 200, r.code)
	assert.Equal(t, "2", r.hdr.Get("Retry-After"), "a short poll's answer")
	assert.NotContains(t, decodeBody(t, r.body), "timedOut")

	r = recvReply(t, e.longPoll("/api/events/jobs/status?ids="+a.JobID+"&ids="+b.JobID, 5*time.Second), 6*time.Second)
	assert.Equal(t, 200, r.code)
	jobs := decodeBody(t, r.body)["jobs"].([]any)
	require.Len(t, jobs, 1, "the first ids only")
	assert.Equal(t, a.JobID, jobs[0].(map[string]any)["jobId"])
}
