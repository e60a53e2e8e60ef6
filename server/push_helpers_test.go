package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// pushEnv is a real jobwait app over a private redis-server: a store, a hub
// run in the background and a fiber app serving on a loopback listener.
type pushEnv struct {
	redis *redistest.Server
	rdb   *redis.Client // jobwait's client
	prod  *redis.Client // the producer's: tests write jobs through it
	jobs  *storetest.Producer
	st    *store.Store // over prod, jobs' own
	hub   *stream.Hub[*server.Answer]
	srv   *server.Server
	addr  string
}

// pushOpts tunes a pushEnv; zero values take the server's defaults.
type pushOpts struct {
	cfg       server.Config
	notify    stream.Mode
	redisArgs []string
	// idleWorkers bounds how long fasthttp keeps an idle connection worker
	// goroutine for reuse (10 s by default), for goroutine counts.
	idleWorkers time.Duration
}

// newPushEnv starts a redis-server, the hub and the app, and waits until
// the hub is ready. Everything is stopped and waited for at cleanup.
func newPushEnv(t *testing.T, o pushOpts) *pushEnv {
	t.Helper()
	e := &pushEnv{redis: redistest.Start(t, o.redisArgs...)}
	e.rdb = redis.NewClient(&redis.Options{
		Addr: e.redis.Addr(), DialTimeout: 2 * time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, PoolSize: 64,
	})
	t.Cleanup(func() { e.rdb.Close() })
	e.prod = e.redis.Client(t)
	e.jobs = storetest.NewProducer(e.prod, "push")
	e.st = e.jobs.Store

	st := store.New(e.rdb)
	hcfg := server.HubConfig(st)
	hcfg.Redis, hcfg.Notify = redisconn.Of(e.rdb), o.notify
	e.hub = stream.New(hcfg)
	streamtest.Run(t, 10*time.Second, "hub.Run", func(ctx context.Context) { _ = e.hub.Run(ctx) })

	e.srv = server.New(o.cfg, st, e.hub)
	if o.idleWorkers > 0 {
		e.srv.App().Server().MaxIdleWorkerDuration = o.idleWorkers
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.addr = ln.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = e.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = e.srv.Shutdown(sctx)
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("app.Listener did not return within 10s of Shutdown")
		}
	})

	streamtest.Eventually(t, 10*time.Second, "hub ready", e.hub.Ready)
	return e
}

// waiters waits until the hub holds exactly n waiters and every admitted
// wait is held with its first state: a change written after it is a
// change to the wait, not the state it starts from.
func (e *pushEnv) waiters(t *testing.T, n int) {
	t.Helper()
	streamtest.Eventually(t, 15*time.Second, fmt.Sprintf("%d waiters held", n), func() bool {
		return e.hub.Stats().Waiters == n && server.Settled(e.srv)
	})
}

// jobWriter writes a job's states in one of the two forms of SPEC.md §1.
type jobWriter interface {
	create(t *testing.T, e *pushEnv) string
	set(t *testing.T, e *pushEnv, id string, s store.Status)
}

// jsonJob writes job:{id} as the canonical JSON string, through store.
type jsonJob struct{}

func (jsonJob) create(t *testing.T, e *pushEnv) string { return e.jobs.Create(t).JobID }

func (jsonJob) set(t *testing.T, e *pushEnv, id string, s store.Status) {
	t.Helper()
	ctx := context.Background()
	j := store.Job{JobID: id, Status: store.Processing, EventDraftID: "draft-" + id, Type: store.JobType}
	var err error
	switch s {
	case store.Processing:
		_, err = e.st.Start(ctx, j)
	case store.Completed:
		_, err = e.st.Complete(ctx, j, store.SampleResult(j.EventDraftID))
	case store.Failed:
		_, err = e.st.Fail(ctx, j, "모델 오류 "+id)
	}
	require.NoError(t, err)
}

// hashJob writes job:{id} as a hash, as Spring's hash mapping does.
type hashJob struct{}

func (hashJob) create(t *testing.T, e *pushEnv) string {
	t.Helper()
	id := e.jobs.ID()
	require.NoError(t, e.prod.HSet(context.Background(), store.JobKey(id),
		"jobId", id, "status", "PENDING", "eventDraftId", "draft-"+id, "type", store.JobType).Err())
	return id
}

func (hashJob) set(t *testing.T, e *pushEnv, id string, s store.Status) {
	t.Helper()
	ctx := context.Background()
	switch s {
	case store.Completed:
		r := store.SampleResult("draft-" + id)
		data, err := json.Marshal(r)
		require.NoError(t, err)
		require.NoError(t, e.prod.Set(ctx, store.ResultKey("draft-"+id), data, 0).Err())
	case store.Failed:
		require.NoError(t, e.prod.Set(ctx, store.ErrorKey(id), "모델 오류 "+id, 0).Err())
	}
	require.NoError(t, e.prod.HSet(ctx, store.JobKey(id), "status", string(s)).Err())
}

// get sends GET path on a new connection, with extra header lines
// ("Last-Event-ID: x"), and reads the response's head within 5 s.
func (e *pushEnv) get(t *testing.T, path string, header ...string) *servertest.Conn {
	t.Helper()
	return servertest.MustGet(t, e.addr, path, header...)
}

// pushReply is a whole response.
type pushReply struct {
	code int
	hdr  http.Header
	body []byte
	at   time.Time // when it was read
	err  error
}

// longPoll sends GET path on a new connection and reads the whole
// response, within limit, in the background.
func (e *pushEnv) longPoll(path string, limit time.Duration) <-chan pushReply {
	ch := make(chan pushReply, 1)
	go func() {
		start := time.Now()
		c, err := servertest.Get(e.addr, path, limit)
		if err != nil {
			ch <- pushReply{err: err}
			return
		}
		defer c.Close()
		ch <- readAll(c, limit-time.Since(start))
	}()
	return ch
}

// readAll reads the rest of the response within limit.
func readAll(c *servertest.Conn, limit time.Duration) pushReply {
	body, err := c.ReadAll(limit)
	return pushReply{code: c.Resp.StatusCode, hdr: c.Resp.Header, body: body, at: time.Now(), err: err}
}

// recvReply receives a reply within d.
func recvReply(t *testing.T, ch <-chan pushReply, d time.Duration) pushReply {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		return r
	case <-time.After(d):
		t.Fatalf("no reply within %v", d)
		return pushReply{}
	}
}

// decodeBody decodes a JSON body.
func decodeBody(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m), "body %s", data)
	return m
}

// jobStreamPath and jobStatusPath are the job's URLs.
func jobStreamPath(id string) string { return "/api/events/jobs/" + id + "/stream" }
func jobStatusPath(id string) string { return "/api/events/jobs/" + id + "/status" }

// distinct returns the distinct errors of a streamtest.Group[error], each
// with its count; nil errors are left out.
func distinct(errs []error) []string {
	count := map[string]int{}
	var out []string
	for _, err := range errs {
		if err == nil {
			continue
		}
		if count[err.Error()]++; count[err.Error()] == 1 {
			out = append(out, err.Error())
		}
	}
	for i, msg := range out {
		out[i] = fmt.Sprintf("%d× %s", count[msg], msg)
	}
	return out
}
