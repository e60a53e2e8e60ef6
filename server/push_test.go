package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// answeredBound is the bound on "answered on the write": far below the wait
// budget (and, in keyspace mode, there is no poll tick at all). It is a
// bound for a pass/fail test, not a latency claim: see the benchmarks.
const answeredBound = time.Second

var eventIDRE = regexp.MustCompile(`^(\d+)-(\d+)(-end)?$`)

// splitEventID splits an event id into its deadline and sequence number.
func splitEventID(t *testing.T, id string) (deadline time.Time, seq int, final bool) {
	t.Helper()
	m := eventIDRE.FindStringSubmatch(id)
	require.NotNil(t, m, "event id %q", id)
	ms, _ := strconv.ParseInt(m[1], 10, 64)
	seq, _ = strconv.Atoi(m[2])
	return time.UnixMilli(ms), seq, m[3] != ""
}

// requireSSEEvent checks an event's exact framing and returns its body.
func requireSSEEvent(t *testing.T, ev servertest.Block, name, id string) map[string]any {
	t.Helper()
	require.Equal(t, "id: "+id+"\nevent: "+name+"\ndata: "+ev.Data, ev.Raw(), "event framing")
	return decodeBody(t, []byte(ev.Data))
}

// openSSE opens a job's stream and checks its head and first block.
func openSSE(t *testing.T, e *pushEnv, id string, header ...string) *servertest.Conn {
	t.Helper()
	c := e.get(t, jobStreamPath(id), header...)
	require.Equal(t, 200, c.Resp.StatusCode)
	assert.Contains(t, c.Resp.Header.Get("Content-Type"), "text/event-stream")
	assert.Equal(t, "no-cache", c.Resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no", c.Resp.Header.Get("X-Accel-Buffering"))
	ev, err := c.Block(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, "retry: 2000", ev.Raw(), "a stream starts with the poll interval")
	return c
}

func TestPushAnsweredOnWrite(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	require.Equal(t, stream.Keyspace, e.hub.Mode())
	forms := []struct {
		name string
		form jobWriter
	}{{"json", jsonJob{}}, {"hash", hashJob{}}}
	for _, f := range forms {
		for _, final := range []store.Status{store.Completed, store.Failed} {
			t.Run(f.name+"/"+strings.ToLower(string(final)), func(t *testing.T) {
				id := f.form.create(t, e)
				start := time.Now()
				sse := openSSE(t, e, id)
				lp := e.longPoll(jobStatusPath(id)+"?wait=30", 10*time.Second)

				ev := sse.Next(t, 5*time.Second)
				deadline, seq, fin := splitEventID(t, ev.ID)
				assert.Equal(t, 1, seq)
				assert.False(t, fin)
				assert.WithinDuration(t, start.Add(server.DefaultWaitBudget), deadline, time.Second, "the id carries the stream's deadline")
				b := requireSSEEvent(t, ev, "status", ev.ID)
				assert.Equal(t, map[string]any{"jobId": id, "status": "PENDING", "message": "AI가 분석 중입니다"}, b)
				e.waiters(t, 2)

				f.form.set(t, e, id, store.Processing)
				ev = sse.Next(t, answeredBound)
				requireSSEEvent(t, ev, "status", fmt.Sprintf("%d-2", deadline.UnixMilli()))
				assert.Equal(t, "PROCESSING", decodeBody(t, []byte(ev.Data))["status"])
				select {
				case r := <-lp:
					t.Fatalf("long poll answered on a non-final change: %d %s", r.code, r.body)
				default:
				}

				wrote := time.Now()
				f.form.set(t, e, id, final)
				ev = sse.Next(t, answeredBound)
				sseLatency := ev.At.Sub(wrote)
				name := strings.ToLower(string(final))
				wantID := fmt.Sprintf("%d-3-end", deadline.UnixMilli())
				b = requireSSEEvent(t, ev, name, wantID)
				sse.Ended(t, 5*time.Second)
				assert.True(t, sse.Resp.Close, "a stream says it is its connection's last response")
				require.NoError(t, sse.SetReadDeadline(time.Now().Add(5*time.Second)))
				_, err := sse.Conn.Read(make([]byte, 1))
				assert.ErrorIs(t, err, io.EOF, "the server closes the stream's connection after the last chunk")

				r := recvReply(t, lp, answeredBound+time.Second)
				lpLatency := r.at.Sub(wrote)
				assert.Equal(t, 200, r.code)
				assert.Equal(t, "no-store", r.hdr.Get("Cache-Control"))
				assert.Empty(t, r.hdr.Get("Retry-After"), "a final answer asks for no retry")
				assert.JSONEq(t, ev.Data, string(r.body), "long poll and stream carry the same body")
				assert.Less(t, sseLatency, answeredBound)
				assert.Less(t, lpLatency, answeredBound)

				assert.Equal(t, id, b["jobId"])
				assert.Equal(t, string(final), b["status"])
				assert.NotContains(t, b, "timedOut")
				if final == store.Completed {
					assert.Equal(t, "draft-"+id, b["eventDraftId"])
					assert.Len(t, b["recommendations"], 3)
					assert.NotEmpty(t, b["trendAnalysis"])
				} else {
					assert.Equal(t, "모델 오류 "+id, b["error"])
					assert.Equal(t, "다시 시도해주세요", b["message"])
				}
				e.waiters(t, 0)
				t.Logf("answered after the write: stream %v, long poll %v", sseLatency, lpLatency)
			})
		}
	}
}

// redisCalls returns the calls of a Redis command since the server started.
func redisCalls(t *testing.T, e *pushEnv, cmd string) int {
	t.Helper()
	info, err := e.prod.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

func TestPushThousandWaitersOneRead(t *testing.T) {
	const streams, polls = 500, 500
	e := newPushEnv(t, pushOpts{})
	j := e.jobs.Create(t)
	j, err := e.st.Start(context.Background(), j)
	require.NoError(t, err)

	conns := make([]*servertest.Conn, streams)
	for i := range conns {
		conns[i] = openSSE(t, e, j.JobID)
		require.Equal(t, "status", conns[i].Next(t, 5*time.Second).Type)
	}
	replies := make([]<-chan pushReply, polls)
	for i := range replies {
		replies[i] = e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 20*time.Second)
	}
	e.waiters(t, streams+polls)
	before := e.hub.Stats()
	getsBefore := redisCalls(t, e, "get") + redisCalls(t, e, "mget")

	wrote := time.Now()
	_, err = e.st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)

	var g streamtest.Group[error]
	for _, c := range conns {
		g.Go(func() error {
			ev, err := c.Block(10 * time.Second)
			if err != nil {
				return err
			}
			if ev.Type != "completed" {
				return fmt.Errorf("stream got %q", ev.Raw())
			}
			if _, err := c.Block(5 * time.Second); err != io.EOF {
				return fmt.Errorf("stream not ended after completed: %v", err)
			}
			return nil
		})
	}
	var last time.Time
	for _, ch := range replies {
		r := recvReply(t, ch, 10*time.Second)
		require.Equal(t, 200, r.code, "%s", r.body)
		require.Equal(t, "COMPLETED", decodeBody(t, r.body)["status"])
		if r.at.After(last) {
			last = r.at
		}
	}
	require.Empty(t, distinct(g.Wait(t, 10*time.Second)))
	e.waiters(t, 0)

	after := e.hub.Stats()
	reads, batches := after.Reads-before.Reads, after.Batches-before.Batches
	gets := redisCalls(t, e, "get") + redisCalls(t, e, "mget") - getsBefore
	t.Logf("one change, %d waiters: %d job reads in %d batches, %d GETs and MGETs; last long poll answered %v after the write",
		streams+polls, reads, batches, gets, last.Sub(wrote))
	assert.LessOrEqual(t, reads, uint64(2), "job reads for one change")
	assert.LessOrEqual(t, batches, uint64(2), "read round trips for one change")
	assert.LessOrEqual(t, gets, 4, "commands for one change (the job's GET, and its result and error message in one MGET; once or twice)")
	assert.GreaterOrEqual(t, after.Fanouts-before.Fanouts, uint64(streams+polls))
}

func TestPushBudget(t *testing.T) {
	const budget = 2 * time.Second
	e := newPushEnv(t, pushOpts{cfg: server.Config{WaitBudget: budget, Heartbeat: time.Second}})
	running := func(t *testing.T) string {
		j := e.jobs.Create(t)
		_, err := e.st.Start(context.Background(), j)
		require.NoError(t, err)
		return j.JobID
	}
	// ends checks that a wait that started at start ended at its budget.
	ends := func(t *testing.T, start, end, deadline time.Time) {
		t.Helper()
		assert.False(t, end.Before(deadline.Add(-50*time.Millisecond)), "ended %v before its deadline", deadline.Sub(end))
		assert.Less(t, end.Sub(deadline), 700*time.Millisecond, "ended late")
	}
	timeoutEvent := func(t *testing.T, c *servertest.Conn, wantID string) servertest.Block {
		t.Helper()
		ev := c.Next(t, budget+5*time.Second)
		b := requireSSEEvent(t, ev, "timeout", wantID)
		assert.Equal(t, true, b["timedOut"])
		assert.Equal(t, "PROCESSING", b["status"])
		c.Ended(t, 5*time.Second)
		return ev
	}

	t.Run("long poll", func(t *testing.T) {
		t.Parallel()
		id := running(t)
		start := time.Now()
		r := recvReply(t, e.longPoll(jobStatusPath(id)+"?wait=30", budget+5*time.Second), budget+6*time.Second)
		ends(t, start, r.at, start.Add(budget))
		assert.Equal(t, 200, r.code)
		assert.Equal(t, "2", r.hdr.Get("Retry-After"))
		assert.Equal(t, map[string]any{"jobId": id, "status": "PROCESSING", "message": "AI가 분석 중입니다", "timedOut": true}, decodeBody(t, r.body))
	})
	t.Run("long poll shorter than the budget", func(t *testing.T) {
		t.Parallel()
		id := running(t)
		start := time.Now()
		r := recvReply(t, e.longPoll(jobStatusPath(id)+"?wait=1s", budget+5*time.Second), budget+6*time.Second)
		ends(t, start, r.at, start.Add(time.Second))
		assert.Equal(t, true, decodeBody(t, r.body)["timedOut"])
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		id := running(t)
		start := time.Now()
		c := openSSE(t, e, id)
		ev := c.Next(t, 5*time.Second)
		deadline, _, _ := splitEventID(t, ev.ID)
		assert.WithinDuration(t, start.Add(budget), deadline, 200*time.Millisecond)
		ev = timeoutEvent(t, c, fmt.Sprintf("%d-2-end", deadline.UnixMilli()))
		ends(t, start, ev.At, deadline)

		// The id of the final event tells a reconnecting EventSource to stop.
		again := e.get(t, jobStreamPath(id), "Last-Event-ID: "+ev.ID)
		assert.Equal(t, 204, again.Resp.StatusCode)
		r := readAll(again, 5*time.Second)
		require.NoError(t, r.err)
		assert.Empty(t, r.body)
	})
	t.Run("reconnect keeps the deadline", func(t *testing.T) {
		t.Parallel()
		id := running(t)
		first := openSSE(t, e, id)
		ev := first.Next(t, 5*time.Second)
		deadline, _, _ := splitEventID(t, ev.ID)
		// Hold the first stream for a heartbeat, then drop it as a
		// browser losing its network would.
		kept, err := first.Block(5 * time.Second)
		require.NoError(t, err)
		require.True(t, kept.Comment(), "want a keepalive, got %q", kept.Raw())
		assert.Equal(t, ": keepalive", kept.Raw())
		first.Close()

		reopened := time.Now()
		c := openSSE(t, e, id, "Last-Event-ID: "+ev.ID)
		ev = c.Next(t, 5*time.Second)
		requireSSEEvent(t, ev, "status", fmt.Sprintf("%d-2", deadline.UnixMilli()))
		ev = timeoutEvent(t, c, fmt.Sprintf("%d-3-end", deadline.UnixMilli()))
		ends(t, reopened, ev.At, deadline)
		assert.Less(t, ev.At.Sub(reopened), budget-400*time.Millisecond, "a reconnect must not get a new budget")
	})
	t.Run("forged id", func(t *testing.T) {
		t.Parallel()
		id := running(t)
		start := time.Now()
		c := openSSE(t, e, id, "Last-Event-ID: 99999999999999-7")
		ev := c.Next(t, 5*time.Second)
		deadline, seq, _ := splitEventID(t, ev.ID)
		assert.Equal(t, 8, seq)
		assert.WithinDuration(t, start.Add(budget), deadline, 200*time.Millisecond, "a forged id buys at most one budget")
		ev = timeoutEvent(t, c, fmt.Sprintf("%d-9-end", deadline.UnixMilli()))
		ends(t, start, ev.At, start.Add(budget))
	})
	t.Run("final ids", func(t *testing.T) {
		t.Parallel()
		id := running(t)
		for _, last := range []string{"99999999999999-3-end", "1-1-end", fmt.Sprintf("%d-2-end", time.Now().Add(budget).UnixMilli())} {
			c := e.get(t, jobStreamPath(id), "Last-Event-ID: "+last)
			assert.Equal(t, 204, c.Resp.StatusCode, "Last-Event-ID %q", last)
			r := readAll(c, 5*time.Second)
			require.NoError(t, r.err)
			assert.Empty(t, r.body)
		}
	})
}

func TestPushResyncClientKill(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	j := e.jobs.Create(t)
	sse := openSSE(t, e, j.JobID)
	sse.Next(t, 5*time.Second)
	lp := e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 20*time.Second)
	e.waiters(t, 2)
	before := e.hub.Stats()

	ctx := context.Background()
	killed, err := e.prod.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Int()
	require.NoError(t, err)
	require.Equal(t, 1, killed, "the hub's one subscription")
	_, err = e.st.Complete(ctx, j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)

	ev := sse.Next(t, 10*time.Second)
	assert.Equal(t, "completed", ev.Type, "%s", ev.Raw())
	sse.Ended(t, 5*time.Second)
	r := recvReply(t, lp, 10*time.Second)
	assert.Equal(t, "COMPLETED", decodeBody(t, r.body)["status"])
	streamtest.Eventually(t, 10*time.Second, "hub ready again", e.hub.Ready)
	after := e.hub.Stats()
	assert.Greater(t, after.Reconnects, before.Reconnects)
	assert.Greater(t, after.Resyncs, before.Resyncs)
}

func TestPushResyncWhileRedisDown(t *testing.T) {
	// An append-only file written on every command keeps the job across
	// the kill, as a persistent Redis would; notify-keyspace-events is not
	// kept: it was set with CONFIG SET.
	e := newPushEnv(t, pushOpts{redisArgs: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	j := e.jobs.Create(t)
	j, err := e.st.Start(context.Background(), j)
	require.NoError(t, err)
	sse := openSSE(t, e, j.JobID)
	sse.Next(t, 5*time.Second)
	lp := e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 25*time.Second)
	e.waiters(t, 2)

	e.redis.Stop()
	streamtest.Eventually(t, 10*time.Second, "hub not ready while redis is down", func() bool { return !e.hub.Ready() })
	e.redis.Resume(t)
	_, err = e.st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)

	ev := sse.Next(t, 15*time.Second)
	assert.Equal(t, "completed", ev.Type, "%s", ev.Raw())
	sse.Ended(t, 5*time.Second)
	r := recvReply(t, lp, 15*time.Second)
	assert.Equal(t, 200, r.code)
	assert.Equal(t, "COMPLETED", decodeBody(t, r.body)["status"])
	streamtest.Eventually(t, 10*time.Second, "hub ready again", e.hub.Ready)

	// Later changes are notified again: notify-keyspace-events was set anew.
	e.answeredOnWrite(t)
}

func TestPushRedisRestart(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	j := e.jobs.Create(t)
	sse := openSSE(t, e, j.JobID)
	sse.Next(t, 5*time.Second)
	lp := e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 25*time.Second)
	e.waiters(t, 2)

	e.redis.Stop()
	streamtest.Eventually(t, 10*time.Second, "hub not ready while redis is down", func() bool { return !e.hub.Ready() })
	e.redis.Resume(t) // empty: the job is gone
	streamtest.Eventually(t, 10*time.Second, "hub ready again", e.hub.Ready)

	// Waiters of a job that vanished with the restart are told so.
	r := recvReply(t, lp, 10*time.Second)
	assert.Equal(t, 404, r.code)
	assert.Equal(t, "JOB_001", decodeBody(t, r.body)["code"])
	ev := sse.Next(t, 10*time.Second)
	assert.Equal(t, "problem", ev.Type)
	assert.Equal(t, "JOB_001", decodeBody(t, []byte(ev.Data))["code"])
	sse.Ended(t, 5*time.Second)

	// Jobs written to the new server are answered on the write.
	e.answeredOnWrite(t)
}

// answeredOnWrite creates a job, holds a stream and a long poll on it and
// requires both to be answered on its completion.
func (e *pushEnv) answeredOnWrite(t *testing.T) {
	t.Helper()
	j := e.jobs.Create(t)
	sse := openSSE(t, e, j.JobID)
	sse.Next(t, 5*time.Second)
	held := e.hub.Stats().Waiters
	lp := e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 25*time.Second)
	e.waiters(t, held+1)
	wrote := time.Now()
	_, err := e.st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)
	ev := sse.Next(t, 10*time.Second)
	assert.Equal(t, "completed", ev.Type)
	r := recvReply(t, lp, 10*time.Second)
	assert.Equal(t, "COMPLETED", decodeBody(t, r.body)["status"])
	assert.Less(t, ev.At.Sub(wrote), answeredBound)
	assert.Less(t, r.at.Sub(wrote), answeredBound)
}

func TestPushClientGone(t *testing.T) {
	const streams = 500
	const beat = 200 * time.Millisecond
	e := newPushEnv(t, pushOpts{cfg: server.Config{Heartbeat: beat}, idleWorkers: 100 * time.Millisecond})
	j := e.jobs.Create(t)
	baseline := runtime.NumGoroutine()

	conns := make([]*servertest.Conn, streams)
	for i := range conns {
		conns[i] = openSSE(t, e, j.JobID)
		require.Equal(t, "status", conns[i].Next(t, 5*time.Second).Type)
	}
	e.waiters(t, streams)
	// A held one-job stream has no goroutine of its own (held.Conn.Watch), so the
	// count may not grow while they are held: what matters is that every
	// waiter goes and nothing is left behind.
	held := runtime.NumGoroutine()

	closed := time.Now()
	for _, c := range conns {
		c.Close()
	}
	streamtest.Eventually(t, 30*beat, "every stream's waiter and goroutines to be gone", func() bool {
		return e.hub.Stats().Waiters == 0 && runtime.NumGoroutine() <= baseline
	})
	t.Logf("%d streams closed by their clients: waiters and goroutines (%d held, %d baseline) back after %v (heartbeat %v)",
		streams, held, baseline, time.Since(closed), beat)
	assert.Zero(t, e.hub.Stats().Jobs)
}

func TestPushPollFallback(t *testing.T) {
	e := newPushEnv(t, pushOpts{redisArgs: []string{"--rename-command", "CONFIG", ""}})
	require.Equal(t, stream.Poll, e.hub.Mode(), "auto falls back to polling where CONFIG is refused")
	require.True(t, e.hub.Ready())
	e.answeredOnWriteWithin(t, 5*time.Second)
}

// answeredOnWriteWithin is answeredOnWrite for poll mode, where an answer
// waits for the next tick.
func (e *pushEnv) answeredOnWriteWithin(t *testing.T, d time.Duration) {
	t.Helper()
	j := e.jobs.Create(t)
	sse := openSSE(t, e, j.JobID)
	sse.Next(t, 5*time.Second)
	lp := e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 25*time.Second)
	e.waiters(t, 2)
	_, err := e.st.Fail(context.Background(), j, "boom")
	require.NoError(t, err)
	ev := sse.Next(t, d)
	assert.Equal(t, "failed", ev.Type)
	assert.Equal(t, "boom", decodeBody(t, []byte(ev.Data))["error"])
	r := recvReply(t, lp, d)
	assert.Equal(t, "FAILED", decodeBody(t, r.body)["status"])
}

func TestPushMaxWaiters(t *testing.T) {
	e := newPushEnv(t, pushOpts{cfg: server.Config{MaxWaiters: 4}})
	j := e.jobs.Create(t)
	var streams []*servertest.Conn
	for range 2 {
		c := openSSE(t, e, j.JobID)
		c.Next(t, 5*time.Second)
		streams = append(streams, c)
	}
	polls := []<-chan pushReply{
		e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 20*time.Second),
		e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 20*time.Second),
	}
	e.waiters(t, 4)

	for _, path := range []string{jobStatusPath(j.JobID) + "?wait=30", jobStreamPath(j.JobID)} {
		r := recvReply(t, e.longPoll(path, 5*time.Second), 6*time.Second)
		assert.Equal(t, 503, r.code, path)
		assert.Equal(t, "2", r.hdr.Get("Retry-After"), path)
		assert.Equal(t, "SVC_001", decodeBody(t, r.body)["code"], path)
	}
	// A short poll holds nothing and is never refused.
	r := recvReply(t, e.longPoll(jobStatusPath(j.JobID), 5*time.Second), 6*time.Second)
	assert.Equal(t, 200, r.code)

	_, err := e.st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)
	for _, c := range streams {
		assert.Equal(t, "completed", c.Next(t, answeredBound).Type)
	}
	for _, ch := range polls {
		assert.Equal(t, "COMPLETED", decodeBody(t, recvReply(t, ch, answeredBound).body)["status"])
	}
	e.waiters(t, 0)
	// Room again once they are answered.
	r = recvReply(t, e.longPoll(jobStatusPath(j.JobID)+"?wait=30", 5*time.Second), 6*time.Second)
	assert.Equal(t, 200, r.code)
}

func TestPushShutdown(t *testing.T) {
	const streams, polls, jobs = 500, 500, 10
	e := newPushEnv(t, pushOpts{})
	ids := make([]string, jobs)
	for i := range ids {
		j, err := e.st.Start(context.Background(), e.jobs.Create(t))
		require.NoError(t, err)
		ids[i] = j.JobID
	}
	conns := make([]*servertest.Conn, streams)
	for i := range conns {
		conns[i] = openSSE(t, e, ids[i%jobs])
		conns[i].Next(t, 5*time.Second)
	}
	replies := make([]<-chan pushReply, polls)
	for i := range replies {
		replies[i] = e.longPoll(jobStatusPath(ids[i%jobs])+"?wait=30", 20*time.Second)
	}
	e.waiters(t, streams+polls)

	// A stream cut by shutdown must look dropped, not ended: no final
	// event, no last chunk (an unexpected EOF), after a random retry that
	// spreads the reconnects.
	var g streamtest.Group[error]
	var mu sync.Mutex
	retries := map[string]bool{}
	for _, c := range conns {
		g.Go(func() error {
			retried := false
			for {
				ev, err := c.Block(10 * time.Second)
				switch {
				case errors.Is(err, io.ErrUnexpectedEOF) && retried:
					return nil
				case err == io.EOF:
					return errors.New("stream ended cleanly at shutdown; want it dropped")
				case err != nil:
					return err
				case ev.Retry != "" && ev.Type == "" && ev.Data == "":
					ms, err := strconv.Atoi(ev.Retry)
					if err != nil || ms < 2000 || ms >= 7000 {
						return fmt.Errorf("retry %q at shutdown; want 2000 to 7000 ms", ev.Retry)
					}
					mu.Lock()
					retries[ev.Retry] = true
					mu.Unlock()
					retried = true
				case !ev.Comment():
					return fmt.Errorf("stream got %q at shutdown; want its end", ev.Raw())
				}
			}
		})
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.srv.Shutdown(ctx))
	took := time.Since(start)
	t.Logf("shutdown with %d held waits took %v", streams+polls, took)
	assert.Less(t, took, 5*time.Second)

	for _, ch := range replies {
		r := recvReply(t, ch, 10*time.Second)
		require.Equal(t, 200, r.code)
		b := decodeBody(t, r.body)
		require.Equal(t, "PROCESSING", b["status"])
		require.NotContains(t, b, "timedOut", "a shutdown is not the end of the wait")
		require.Less(t, r.at.Sub(start), 5*time.Second)
	}
	require.Empty(t, distinct(g.Wait(t, 10*time.Second)))
	assert.Greater(t, len(retries), streams/10, "reconnect delays spread, not one for all")
	e.waiters(t, 0)
}

// TestPushShutdownWhileConnectionsGoBack: Shutdown begins as held long
// polls are answered with their timeout (kept alive: a final answer would
// close the connection) and their clients send the next request on the
// same connection. Shutdown ends promptly (no connection is handed back to
// fasthttp after it began, and every one handed back before is ended by
// fasthttp's shutdown), every client gets its answer, and each next
// request is answered or its connection closed: none hangs.
func TestPushShutdownWhileConnectionsGoBack(t *testing.T) {
	const n = 200
	e := newPushEnv(t, pushOpts{})
	j, err := e.st.Start(context.Background(), e.jobs.Create(t))
	require.NoError(t, err)
	var g streamtest.Group[error]
	var got, answered, closed atomic.Int64
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, "GET "+jobStatusPath(j.JobID)+"?wait=2 HTTP/1.1\r\nHost: jobwait\r\n\r\n")
		require.NoError(t, err)
		conns[i] = c
	}
	e.waiters(t, n)
	for _, c := range conns {
		g.Go(func() error {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return fmt.Errorf("held answer: %w", err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
				return fmt.Errorf("held answer: %d %v", resp.StatusCode, err)
			}
			got.Add(1)
			if _, err := io.WriteString(c, "GET "+jobStatusPath(j.JobID)+" HTTP/1.1\r\nHost: jobwait\r\n\r\n"); err != nil {
				closed.Add(1)
				return nil
			}
			resp, err = http.ReadResponse(br, nil)
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				return errors.New("the next request hangs")
			case err != nil:
				closed.Add(1)
			default:
				resp.Body.Close()
				answered.Add(1)
			}
			return nil
		})
	}
	streamtest.Eventually(t, 10*time.Second, "some answers read", func() bool { return got.Load() >= n/4 })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.srv.Shutdown(ctx))
	assert.Less(t, time.Since(start), 5*time.Second, "Shutdown waits for no idle connection")
	require.Empty(t, distinct(g.Wait(t, 15*time.Second)))
	t.Logf("Shutdown took %v; next requests: %d answered, %d closed", time.Since(start).Round(time.Millisecond), answered.Load(), closed.Load())
}

// TestPushSpringRewriteIsNotAVanishedJob: Spring's hash mapping rewrites a
// hash as DEL, then HMSET, in two round trips. Held waiters must not take
// the gap for a job that is gone (JOB_001): they get the state that follows.
func TestPushSpringRewriteIsNotAVanishedJob(t *testing.T) {
	e := newPushEnv(t, pushOpts{})
	ctx := context.Background()
	const n = 20
	id := hashJob{}.create(t, e)
	polls := make([]<-chan pushReply, n)
	for i := range polls {
		polls[i] = e.longPoll(jobStatusPath(id)+"?wait=30", 10*time.Second)
	}
	sse := openSSE(t, e, id)
	assert.Equal(t, "status", sse.Next(t, 5*time.Second).Type)
	e.waiters(t, n+1)

	draft := "draft-" + id
	_, err := e.st.Complete(ctx, store.Job{JobID: "result-only", EventDraftID: draft}, store.SampleResult(draft))
	require.NoError(t, err) // writes the result (and an unrelated job record)
	// The gap is as wide as a slow producer makes it.
	require.NoError(t, e.prod.Del(ctx, store.JobKey(id)).Err())
	time.Sleep(30 * time.Millisecond) // the producer's second round trip, slowed down
	require.NoError(t, e.prod.HSet(ctx, store.JobKey(id), "jobId", id, "status", "COMPLETED", "eventDraftId", draft).Err())

	for _, p := range polls {
		r := recvReply(t, p, answeredBound)
		assert.Equal(t, 200, r.code, "%s", r.body)
		assert.Contains(t, string(r.body), `"COMPLETED"`)
	}
	ev := sse.Next(t, answeredBound)
	assert.Equal(t, "completed", ev.Type, "%s", ev.Data)
}
