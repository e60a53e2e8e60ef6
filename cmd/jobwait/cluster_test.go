package main

// Several jobwait replicas over one Redis, single node and cluster: they
// share nothing but Redis, so a wait may be held by any of them and a
// stream may move from one to another with its Last-Event-ID.

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/jobwait/jobwaittest"
	"jobwait/store"
	"jobwait/store/redistest"
)

// replicaBudget is the replicas' wait budget: longer than any of these
// tests' waits, so that an answer before it is a real one.
const replicaBudget = 20 * time.Second

// startReplicas starts one jobwait per REDIS_URL in urls and waits until
// every one is ready.
func startReplicas(t *testing.T, urls []string, env ...string) []*rig {
	t.Helper()
	rs := make([]*rig, len(urls))
	for i, u := range urls {
		p := jobwaittest.Start(t, append([]string{"REDIS_URL=" + u, "JOBWAIT_DEMO=false",
			"JOBWAIT_WAIT_BUDGET=" + replicaBudget.String()}, env...)...)
		rs[i] = &rig{jw: p, http: newHTTPClient(t)}
	}
	for _, r := range rs {
		r.jw.WaitReady(t, 15*time.Second)
	}
	return rs
}

// newStoreJobs writes n PENDING jobs through st.
func newStoreJobs(t *testing.T, st *store.Store, prefix string, n int) []store.Job {
	t.Helper()
	jobs := make([]store.Job, n)
	for i := range jobs {
		id := fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%1e9, jobSeq.Add(1))
		j, err := st.Create(context.Background(), id, "draft-"+id)
		require.NoError(t, err)
		jobs[i] = j
	}
	return jobs
}

func TestReplicasOnOneRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	st := store.New(srv.Client(t))
	rs := startReplicas(t, []string{srv.URL(), srv.URL(), srv.URL()})
	answeredOnEveryReplica(t, rs, st)
	streamMovesBetweenReplicas(t, rs, st)
}

// On a cluster, each replica is given REDIS_URL differently: the cluster
// URL form with ?addr= seeds, a master's plain URL and a replica's plain
// URL (both told apart from a single node by INFO). A fourth polls.
func TestReplicasOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	master := c.Masters(t)[0]
	replica := c.ReplicaOf(t, master)
	st := store.New(c.Client(t))
	rs := startReplicas(t, []string{c.URL(), master.URL(), "redis://" + replica.Addr()})
	for _, r := range rs {
		assert.Contains(t, r.jw.Log(), "following the cluster", "replica %s runs on the cluster", r.jw.Addr)
		code, _, body, err := getJSON(r.http, r.jw.URL()+"/readyz")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "keyspace", body["notify"])
	}
	rs = append(rs, startReplicas(t, []string{c.URL()}, "JOBWAIT_NOTIFY=poll")...)
	answeredOnEveryReplica(t, rs, st)
	streamMovesBetweenReplicas(t, rs, st)

	_, err := connect(context.Background(), "redis://"+master.Addr()+"/3", nil, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "database 0 only", "a cluster with database 3")

	// A cluster node down at start is taken for a single node; once it
	// answers, jobwait exits so that it is restarted as a cluster client.
	c.Kill(replica)
	jw := jobwaittest.Start(t, "REDIS_URL="+replica.URL(), "JOBWAIT_DEMO=false")
	eventually(t, 5*time.Second, "logging that Redis is unreachable", func() bool {
		return strings.Contains(jw.Log(), "taking REDIS_URL for a single node")
	})
	replica.Resume(t)
	err = jw.Wait(15 * time.Second)
	assert.Error(t, err, "jobwait exits with an error")
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "jobwait exits")
	assert.Contains(t, jw.Log(), "names a Redis Cluster node")
}

// answeredOnEveryReplica holds long polls and streams spread over the
// replicas, completes every job through Redis and expects every wait
// answered with its result.
func answeredOnEveryReplica(t *testing.T, rs []*rig, st *store.Store) {
	t.Helper()
	jobs := newStoreJobs(t, st, "rep", 8*len(rs))
	var w waits
	held := make([]int, len(rs))
	for i, j := range jobs {
		r := rs[i%len(rs)]
		held[i%len(rs)]++
		if i%2 == 0 {
			w.Go(func() outcome { return r.longPoll(j.JobID, "20", replicaBudget) })
		} else {
			w.Go(func() outcome { return r.sse(j.JobID, replicaBudget, nil) })
		}
	}
	for i, r := range rs {
		r.waitHeld(t, held[i], 10*time.Second)
	}
	start := time.Now()
	for _, j := range jobs {
		_, err := st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
		require.NoError(t, err)
	}
	for _, o := range w.wait(t, replicaBudget) {
		assert.True(t, o.completed(), "%v", o)
	}
	t.Logf("%d waits over %d replicas answered %v after the first completion", len(jobs), len(rs), time.Since(start).Round(time.Millisecond))
}

// streamMovesBetweenReplicas opens a stream on one replica, resumes it on
// another with its Last-Event-ID (same deadline), sees the job complete
// there, and is told 204 by a third when it resumes after the end.
func streamMovesBetweenReplicas(t *testing.T, rs []*rig, st *store.Store) {
	t.Helper()
	j := newStoreJobs(t, st, "move", 1)[0]

	first := openStream(t, rs[0], j.JobID, "")
	ev := first.next(t)
	require.Equal(t, "status", ev.name)
	deadline, _, ok := strings.Cut(ev.id, "-")
	require.True(t, ok, "event id %q", ev.id)
	first.close()

	moved := openStream(t, rs[1], j.JobID, ev.id)
	ev = moved.next(t)
	assert.Equal(t, "status", ev.name)
	assert.True(t, strings.HasPrefix(ev.id, deadline+"-"), "resumed event id %q keeps the deadline %s", ev.id, deadline)
	_, err := st.Complete(context.Background(), j, store.SampleResult(j.EventDraftID))
	require.NoError(t, err)
	ev = moved.next(t)
	assert.Equal(t, "completed", ev.name)
	assert.True(t, strings.HasPrefix(ev.id, deadline+"-") && strings.HasSuffix(ev.id, "-end"), "final event id %q", ev.id)
	moved.close()

	req, _ := http.NewRequest(http.MethodGet, streamURL(rs[2].jw.URL(), j.JobID), nil)
	req.Header.Set("Last-Event-ID", ev.id)
	resp, err := rs[2].http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, "resumed after the end")
}

// sseEvent is one server-sent event.
type sseEvent struct{ id, name, data string }

// sseConn is an open stream whose events arrive on a channel.
type sseConn struct {
	events chan sseEvent
	cancel context.CancelFunc
}

// openStream opens job id's stream on r, with lastID as Last-Event-ID if
// not empty.
func openStream(t *testing.T, r *rig, id, lastID string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaBudget)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, streamURL(r.jw.URL(), id), nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		t.Fatalf("stream of %s: %s", id, resp.Status)
	}
	s := &sseConn{events: make(chan sseEvent, 16), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && ev.name != "":
				s.events <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

// next returns the next event, failing the test if none comes in time.
func (s *sseConn) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

func (s *sseConn) close() { s.cancel() }
