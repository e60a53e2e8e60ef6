package main

// Several jobwait replicas over one Redis, single node and cluster: they
// share nothing but Redis, so a wait may be held by any of them and a
// stream may move from one to another with its Last-Event-ID.

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
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
		p := servertest.Start(t, append([]string{"REDIS_URL=" + u, "JOBWAIT_DEMO=false",
			"JOBWAIT_WAIT_BUDGET=" + replicaBudget.String()}, env...)...)
		rs[i] = &rig{jw: p, http: newHTTPClient(t)}
	}
	for _, r := range rs {
		r.jw.WaitReady(t, 15*time.Second)
	}
	return rs
}

func TestReplicasOnOneRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	p := storetest.NewProducer(srv.Client(t), "rep")
	rs := startReplicas(t, []string{srv.URL(), srv.URL(), srv.URL()})
	answeredOnEveryReplica(t, rs, p)
	streamMovesBetweenReplicas(t, rs, p)
}

// On a cluster, each replica is given REDIS_URL differently: the cluster
// URL form with ?addr= seeds, a master's plain URL and a replica's plain
// URL (both told apart from a single node by INFO). A fourth polls.
func TestReplicasOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	master := c.Masters(t)[0]
	replica := c.ReplicaOf(t, master)
	p := storetest.NewProducer(c.Client(t), "rep")
	rs := startReplicas(t, []string{c.URL(), master.URL(), "redis://" + replica.Addr()})
	for _, r := range rs {
		assert.Contains(t, r.jw.Log(), "following the cluster", "replica %s runs on the cluster", r.jw.Addr)
		code, _, body, err := getJSON(r.http, r.jw.URL()+"/readyz")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "keyspace", body["notify"])
	}
	rs = append(rs, startReplicas(t, []string{c.URL()}, "JOBWAIT_NOTIFY=poll")...)
	answeredOnEveryReplica(t, rs, p)
	streamMovesBetweenReplicas(t, rs, p)

	_, err := redisconn.Open(context.Background(), redisconn.Settings{URL: "redis://" + master.Addr() + "/3"}, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "database 0 only", "a cluster with database 3")

	// A cluster node down at start is taken for a single node; once it
	// answers, jobwait exits so that it is restarted as a cluster client.
	c.Kill(replica)
	jw := servertest.Start(t, "REDIS_URL="+replica.URL(), "JOBWAIT_DEMO=false")
	streamtest.Eventually(t, 5*time.Second, "logging that Redis is unreachable", func() bool {
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
func answeredOnEveryReplica(t *testing.T, rs []*rig, p *storetest.Producer) {
	t.Helper()
	jobs := p.Jobs(t, 8*len(rs))
	var w streamtest.Group[outcome]
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
		err := p.Complete(context.Background(), j)
		require.NoError(t, err)
	}
	for _, o := range w.Wait(t, replicaBudget) {
		assert.True(t, o.completed(), "%v", o)
	}
	t.Logf("%d waits over %d replicas answered %v after the first completion", len(jobs), len(rs), time.Since(start).Round(time.Millisecond))
}

// streamMovesBetweenReplicas opens a stream on one replica, resumes it on
// another with its Last-Event-ID (same deadline), sees the job complete
// there, and is told 204 by a third when it resumes after the end.
func streamMovesBetweenReplicas(t *testing.T, rs []*rig, p *storetest.Producer) {
	t.Helper()
	j := p.Jobs(t, 1)[0]

	first := openStream(t, rs[0], j.JobID, "")
	ev := first.Event(t, 10*time.Second)
	require.Equal(t, "status", ev.Type)
	deadline, _, ok := strings.Cut(ev.ID, "-")
	require.True(t, ok, "event id %q", ev.ID)
	first.Close()

	moved := openStream(t, rs[1], j.JobID, ev.ID)
	ev = moved.Event(t, 10*time.Second)
	assert.Equal(t, "status", ev.Type)
	assert.True(t, strings.HasPrefix(ev.ID, deadline+"-"), "resumed event id %q keeps the deadline %s", ev.ID, deadline)
	err := p.Complete(context.Background(), j)
	require.NoError(t, err)
	ev = moved.Event(t, 10*time.Second)
	assert.Equal(t, "completed", ev.Type)
	assert.True(t, strings.HasPrefix(ev.ID, deadline+"-") && strings.HasSuffix(ev.ID, "-end"), "final event id %q", ev.ID)
	moved.Close()

	req, _ := http.NewRequest(http.MethodGet, streamURL(rs[2].jw.URL(), j.JobID), nil)
	req.Header.Set("Last-Event-ID", ev.ID)
	resp, err := rs[2].http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, "resumed after the end")
}

// openStream opens job id's stream on r, with lastID as Last-Event-ID if
// not empty.
func openStream(t *testing.T, r *rig, id, lastID string) *servertest.Conn {
	t.Helper()
	var header []string
	if lastID != "" {
		header = append(header, "Last-Event-ID: "+lastID)
	}
	c := servertest.MustGet(t, r.jw.Addr, "/api/events/jobs/"+id+"/stream", header...)
	if c.Resp.StatusCode != http.StatusOK {
		t.Fatalf("stream of %s: %s", id, c.Resp.Status)
	}
	return c
}
