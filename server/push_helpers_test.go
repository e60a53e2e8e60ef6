package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/stream"
)

// pushEnv is a real jobwait app over a private redis-server: a store, a hub
// run in the background and a fiber app serving on a loopback listener.
type pushEnv struct {
	redis *redistest.Server
	rdb   *redis.Client // jobwait's client
	prod  *redis.Client // the producer's: tests write jobs through it
	st    *store.Store  // over prod
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
	e.st = store.New(e.prod)

	st := store.New(e.rdb)
	hcfg := server.HubConfig(st)
	hcfg.Client, hcfg.Notify = e.rdb, o.notify
	e.hub = stream.New(hcfg)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = e.hub.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Error("hub.Run did not return within 10s of cancel")
		}
	})

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

	pollUntil(t, 10*time.Second, "hub ready", e.hub.Ready)
	return e
}

// pollUntil polls cond every few milliseconds until it holds, failing the
// test after d.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

// waiters waits until the hub holds exactly n waiters.
func (e *pushEnv) waiters(t *testing.T, n int) {
	t.Helper()
	pollUntil(t, 15*time.Second, fmt.Sprintf("%d waiters held", n), func() bool { return e.hub.Stats().Waiters == n })
}

var pushSeq atomic.Int64

// pushJobID returns a job id unique in this package run.
func pushJobID() string { return fmt.Sprintf("push%d-%d", time.Now().UnixNano()%1e9, pushSeq.Add(1)) }

// create writes a PENDING job as a JSON string.
func (e *pushEnv) create(t *testing.T) store.Job {
	t.Helper()
	id := pushJobID()
	j, err := e.st.Create(context.Background(), id, "draft-"+id)
	require.NoError(t, err)
	return j
}

// jobWriter writes a job's states in one of the two forms of SPEC.md §1.
type jobWriter interface {
	create(t *testing.T, e *pushEnv) string
	set(t *testing.T, e *pushEnv, id string, s store.Status)
}

// jsonJob writes job:{id} as the canonical JSON string, through store.
type jsonJob struct{}

func (jsonJob) create(t *testing.T, e *pushEnv) string { return e.create(t).JobID }

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
	id := pushJobID()
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

// pushConn is one client connection: a request written by hand and its
// response read with the standard library's parser, so that thousands of
// clients cost no transport goroutines. Reads are bounded by deadlines.
type pushConn struct {
	c    net.Conn
	resp *http.Response
	sse  *bufio.Reader
}

// get sends GET path on a new connection, with extra header lines
// ("Last-Event-ID: x"), and reads the response's head within 5 s.
func (e *pushEnv) get(t *testing.T, path string, header ...string) *pushConn {
	t.Helper()
	c, err := e.tryGet(path, 5*time.Second, header...)
	require.NoError(t, err)
	t.Cleanup(func() { c.c.Close() })
	return c
}

// tryGet is get without a test: it sends GET path and reads the head
// within limit.
func (e *pushEnv) tryGet(path string, limit time.Duration, header ...string) (*pushConn, error) {
	nc, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: jobwait\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	nc.SetDeadline(time.Now().Add(limit))
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		nc.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return &pushConn{c: nc, resp: resp, sse: bufio.NewReader(resp.Body)}, nil
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
		c, err := e.tryGet(path, limit)
		if err != nil {
			ch <- pushReply{err: err}
			return
		}
		defer c.c.Close()
		ch <- c.readAll(limit - time.Since(start))
	}()
	return ch
}

// readAll reads the rest of the response within limit.
func (c *pushConn) readAll(limit time.Duration) pushReply {
	c.c.SetReadDeadline(time.Now().Add(limit))
	body, err := io.ReadAll(c.resp.Body)
	return pushReply{code: c.resp.StatusCode, hdr: c.resp.Header, body: body, at: time.Now(), err: err}
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

// sseEvent is one block of an event stream.
type sseEvent struct {
	raw     string // the block as sent, without its blank line
	id      string
	name    string
	data    string
	retry   string
	comment bool // a comment-only block (keepalive)
	at      time.Time
}

// next reads the next block of the stream within d; io.EOF when the
// server ended the stream.
func (c *pushConn) next(d time.Duration) (sseEvent, error) {
	c.c.SetReadDeadline(time.Now().Add(d))
	var ev sseEvent
	var raw []string
	for {
		line, err := c.sse.ReadString('\n')
		if err != nil {
			if err == io.EOF && (len(raw) > 0 || line != "") {
				err = io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(raw) == 0 {
				continue
			}
			ev.raw, ev.at = strings.Join(raw, "\n"), time.Now()
			return ev, nil
		}
		raw = append(raw, line)
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			ev.comment = true
		case "id":
			ev.id = value
		case "event":
			ev.name = value
		case "data":
			ev.data = value
		case "retry":
			ev.retry = value
		}
		if field != "" {
			ev.comment = false
		}
	}
}

// nextEvent reads blocks until one that is not a comment.
func (c *pushConn) nextEvent(t *testing.T, d time.Duration) sseEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ev, err := c.next(time.Until(deadline))
		require.NoError(t, err, "reading the event stream")
		if !ev.comment {
			return ev
		}
	}
}

// ended requires the server to end the stream within d, comments aside.
func (c *pushConn) ended(t *testing.T, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ev, err := c.next(time.Until(deadline))
		if err == io.EOF {
			return time.Now()
		}
		require.NoError(t, err, "waiting for the end of the stream")
		require.True(t, ev.comment, "want the end of the stream, got %q", ev.raw)
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

// clientGroup runs fns concurrently and collects their errors.
type clientGroup struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (g *clientGroup) Go(fn func() error) {
	g.wg.Go(func() {
		if err := fn(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	})
}

// wait waits at most d for every function and returns their distinct
// errors, each with its count.
func (g *clientGroup) wait(t *testing.T, d time.Duration) []string {
	t.Helper()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("clients still running after %v", d)
	}
	count := map[string]int{}
	var distinct []string
	for _, err := range g.errs {
		if count[err.Error()]++; count[err.Error()] == 1 {
			distinct = append(distinct, err.Error())
		}
	}
	for i, msg := range distinct {
		distinct[i] = fmt.Sprintf("%d× %s", count[msg], msg)
	}
	return distinct
}
