package main

// Held responses (long polls and streams taken over from fasthttp): the one
// write deadline, a graceful close, the kept-alive connection after the
// answer, what /metrics counts, and how a shutdown ends streams.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gosse "github.com/tmaxmax/go-sse"

	"jobwait/server/servertest"
	"jobwait/stream/streamtest"
)

// bigAnswer is the size of the result the deadline tests write: more than
// the kernel's socket buffers hold (a send buffer grows to 4 MB at most).
const bigAnswer = 8 << 20

// heldDeadline is the rule of README's Timeouts: a held response must be
// written by the wait's end + 5 s + its size at the minimum read rate.
func heldDeadline(end time.Time, size, rate int) time.Time {
	return end.Add(5*time.Second + time.Duration(float64(size)/float64(rate)*float64(time.Second)))
}

// TestNonReadingClientsReleasedByTheDeadline: a long poll and a stream
// whose clients never read a multi-megabyte answer are cut off, and their
// waiters released, by the rule's deadline.
func TestNonReadingClientsReleasedByTheDeadline(t *testing.T) {
	t.Parallel()
	const budget, rate = 8 * time.Second, 1 << 20 // a budget the 8 MB result is surely read within
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=1s",
		"JOBWAIT_MIN_READ_RATE="+strconv.Itoa(rate))
	j := r.jobs.Jobs(t, 1)[0]
	start := time.Now()
	var conns []net.Conn
	for _, path := range []string{"/api/events/jobs/" + j.JobID + "/status?wait=30", "/api/events/jobs/" + j.JobID + "/stream"} {
		c, err := smallReadBuffer.Dial("tcp", r.jw.Addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, servertest.RawGet(path))
		require.NoError(t, err)
		conns = append(conns, c)
	}
	r.waitHeld(t, 2, budget)
	r.completeBig(t, j, bigAnswer)
	bound := heldDeadline(start.Add(budget), bigAnswer+4096, rate)
	r.waitHeld(t, 0, time.Until(bound)+slack)
	t.Logf("non-reading clients released %v after the wait began; the bound is %v",
		time.Since(start).Round(time.Millisecond), bound.Sub(start).Round(time.Millisecond))
	for _, c := range conns { // each got a part of the result, then its end
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		data, _ := io.ReadAll(c)
		assert.Contains(t, string(data[:min(len(data), 1000)]), `"status":"COMPLETED"`)
		assert.Less(t, len(data), bigAnswer, "cut off")
	}
}

// TestSlowReadersGetTheWholeAnswer: clients reading a multi-megabyte
// answer steadily a little above the minimum read rate get all of it,
// though it takes them past the wait's end + 5 s.
func TestSlowReadersGetTheWholeAnswer(t *testing.T) {
	t.Parallel()
	const budget, rate, reads, size = 8 * time.Second, 512 << 10, 768 << 10, 12 << 20
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_MIN_READ_RATE="+strconv.Itoa(rate))
	j := r.jobs.Jobs(t, 1)[0]
	paths := []string{"/api/events/jobs/" + j.JobID + "/status?wait=30", "/api/events/jobs/" + j.JobID + "/stream"}
	conns := make([]*bufio.Reader, len(paths))
	for i, path := range paths {
		c, err := smallReadBuffer.Dial("tcp", r.jw.Addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, servertest.RawGet(path))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Minute))) // none hangs
		conns[i] = bufio.NewReaderSize(c, 4096)
	}
	r.waitHeld(t, 2, budget)
	start := time.Now()
	r.completeBig(t, j, size)
	var wg sync.WaitGroup
	for i, br := range conns {
		wg.Go(func() {
			resp, body, err := readAnswer(br, reads)
			if !assert.NoError(t, err, paths[i]) {
				return
			}
			assert.Equal(t, 200, resp.StatusCode, paths[i])
			if i == 1 { // the stream: its last event carries the answer
				_, data, _ := strings.Cut(string(body), "event: completed\ndata: ")
				data, _, _ = strings.Cut(data, "\n")
				body = []byte(data)
			}
			var b struct {
				Status          string
				Recommendations []json.RawMessage
			}
			assert.NoError(t, json.Unmarshal(body, &b), "%s: %d bytes, whole JSON", paths[i], len(body))
			assert.Equal(t, "COMPLETED", b.Status, paths[i])
			assert.Len(t, b.Recommendations, 3, paths[i])
			t.Logf("%s: %d bytes read in %v", paths[i], len(body), time.Since(start).Round(time.Millisecond))
		})
	}
	wg.Wait()
}

// TestPipelinedBytesBehindAHeldWait: a long poll followed, in the same
// send, by 64 KB of pipelined requests gets its whole answer (small and
// 1 MB), then a clean end of the connection, not a reset. The job
// completes once the wait is held on its first state; each size has its
// own jobwait, so that no read of another job counts for that.
func TestPipelinedBytesBehindAHeldWait(t *testing.T) {
	t.Parallel()
	pipelined := strings.Repeat(servertest.RawGet("/healthz"), 64<<10/len(servertest.RawGet("/healthz")))
	for _, size := range []int{0, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET=10s")
			j := r.jobs.Jobs(t, 1)[0]
			reads := r.hubReads()
			c := rawRequest(t, r.jw.Addr, servertest.RawGet("/api/events/jobs/"+j.JobID+"/status?wait=10")+pipelined)
			r.waitFirstStates(t, 1, reads, 5*time.Second)
			if size > 0 {
				r.completeBig(t, j, size)
			} else {
				require.NoError(t, r.jobs.Complete(context.Background(), j))
			}
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			br := bufio.NewReader(c)
			resp, body, err := readAnswer(br, 0)
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assert.True(t, resp.Close, "answered with Connection: close")
			assert.EqualValues(t, resp.ContentLength, len(body), "the whole answer")
			var b struct {
				Status          string
				Recommendations []json.RawMessage
			}
			require.NoError(t, json.Unmarshal(body, &b))
			assert.Equal(t, "COMPLETED", b.Status)
			assert.Len(t, b.Recommendations, 3)
			_, err = br.ReadByte()
			assert.ErrorIs(t, err, io.EOF, "the connection ends with a FIN, not a reset")
			r.waitHeld(t, 0, 5*time.Second)
		})
	}
}

// TestKeptAliveAfterAHeldAnswer: once a held wait is answered with its
// timeout (the client polls again), its kept-alive connection waits for the
// next request for the idle timeout (2 min), not the header read timeout.
func TestKeptAliveAfterAHeldAnswer(t *testing.T) {
	t.Parallel()
	const readTimeout = time.Second
	r := newRig(t, nil, "JOBWAIT_READ_TIMEOUT="+readTimeout.String())
	j := r.jobs.Jobs(t, 1)[0]
	c := rawRequest(t, r.jw.Addr, servertest.RawGet("/api/events/jobs/"+j.JobID+"/status?wait=1"))
	br := bufio.NewReader(c)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, body, err := readAnswer(br, 0)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(body), `"timedOut":true`)
	require.False(t, resp.Close, "kept alive")
	require.NoError(t, r.jobs.Complete(context.Background(), j))

	time.Sleep(3 * readTimeout) // idle: past the read timeout, within the idle timeout
	for _, path := range []string{"/api/events/jobs/" + j.JobID + "/status", "/api/events/jobs/" + j.JobID + "/status?wait=10"} {
		_, err = io.WriteString(c, servertest.RawGet(path))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		resp, body, err := readAnswer(br, 0)
		require.NoError(t, err, "%s on the kept-alive connection", path)
		assert.Equal(t, 200, resp.StatusCode, path)
		assert.Contains(t, string(body), `"COMPLETED"`, path)
		assert.False(t, resp.Close, "%s: an answer not held keeps the connection", path)
	}
}

// TestLastEventIDAtTheLastSequence: a Last-Event-ID whose sequence is the
// largest there is never makes the next id's sequence wrap to 0.
func TestLastEventIDAtTheLastSequence(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	j := r.jobs.Jobs(t, 1)[0]
	deadline := time.Now().Add(20 * time.Second).UnixMilli()
	for _, last := range []string{"18446744073709551614", "18446744073709551615"} {
		c := servertest.MustGet(t, r.jw.Addr, "/api/events/jobs/"+j.JobID+"/stream", fmt.Sprintf("Last-Event-ID: %d-%s", deadline, last))
		id := c.Event(t, 5*time.Second).ID
		_, seq, _ := strings.Cut(id, "-")
		n, err := strconv.ParseUint(seq, 10, 64)
		require.NoError(t, err, "id %q", id)
		assert.NotZero(t, n, "after Last-Event-ID …-%s the id is %q", last, id)
		t.Logf("after …-%s: id %s", last, id)
	}
}

// TestMetricsCountWhatWasSent: a held wait is counted once, when it ends,
// with the status it sent: 404 for a long poll whose job vanished and a
// stream that ended with its problem, 499 for a wait whose client left,
// 200 for a result.
func TestMetricsCountWhatWasSent(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET=20s", "JOBWAIT_HEARTBEAT=1s")
	series := func(code, route string) float64 {
		return servertest.Metric(r.jw.URL(), "jobwait_http_requests_total", "code", code, "route", route)
	}
	type count struct{ code, route string }
	counts := []count{{"200", "status"}, {"404", "status"}, {"499", "status"}, {"200", "stream"}, {"404", "stream"}}
	before := map[count]float64{}
	for _, c := range counts {
		before[c] = max(series(c.code, c.route), 0)
	}
	jobs := r.jobs.Jobs(t, 4)
	var w streamtest.Group[outcome]
	w.Go(func() outcome { return r.longPoll(jobs[0].JobID, "20", 25*time.Second) })
	w.Go(func() outcome { return r.longPoll(jobs[1].JobID, "20", 25*time.Second) })
	w.Go(func() outcome { return r.sse(jobs[2].JobID, 25*time.Second, nil) })
	gone := rawRequest(t, r.jw.Addr, servertest.RawGet("/api/events/jobs/"+jobs[3].JobID+"/status?wait=20"))
	r.waitHeld(t, 4, 10*time.Second)
	require.NoError(t, r.jobs.Complete(context.Background(), jobs[0]))
	require.NoError(t, r.rdb.Del(context.Background(), "job:"+jobs[1].JobID, "job:"+jobs[2].JobID).Err())
	gone.Close()
	w.Wait(t, 10*time.Second)
	r.waitHeld(t, 0, 10*time.Second)
	want := map[count]float64{{"200", "status"}: 1, {"404", "status"}: 1, {"499", "status"}: 1, {"404", "stream"}: 1}
	for _, c := range counts {
		assert.Equal(t, want[c], series(c.code, c.route)-before[c], "jobwait_http_requests_total{code=%q,route=%q}", c.code, c.route)
	}
}

// TestSIGTERMStreamsReconnectElsewhere: SIGTERM to one of two replicas
// behind a load balancer. Its streams end as dropped connections, so that
// a third-party SSE client (tmaxmax/go-sse) reconnects with its
// Last-Event-ID to the other replica, keep their original deadline, and get
// the result within it; an HTTP/1.0 stream (close-delimited) gets a reset.
func TestSIGTERMStreamsReconnectElsewhere(t *testing.T) {
	t.Parallel()
	const budget = 30 * time.Second
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	other := servertest.Start(t, "REDIS_URL="+r.redis.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET="+budget.String())
	other.WaitReady(t, 10*time.Second)
	lb := newBalancer(t, r.jw.Addr, other.Addr)
	j := r.jobs.Jobs(t, 1)[0]
	url := streamURL(lb.URL(), j.JobID)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	// Each client reports its events' ids and names.
	type event struct{ id, name, data string }
	clients := map[string]chan event{"tmaxmax/go-sse": make(chan event, 16)}
	started := time.Now()
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		conn := (&gosse.Client{HTTPClient: http.DefaultClient}).NewConnection(req)
		conn.SubscribeToAll(func(e gosse.Event) {
			if e.Type != "" { // not a retry alone
				clients["tmaxmax/go-sse"] <- event{e.LastEventID, e.Type, e.Data}
			}
		})
		_ = conn.Connect()
		close(clients["tmaxmax/go-sse"])
	}()
	// An HTTP/1.0 stream, straight to the replica that stops.
	old := rawRequest(t, r.jw.Addr, "GET /api/events/jobs/"+j.JobID+"/stream HTTP/1.0\r\n\r\n")

	next := func(name string) event {
		t.Helper()
		select {
		case e, ok := <-clients[name]:
			require.True(t, ok, "%s stopped", name)
			return e
		case <-ctx.Done():
			t.Fatalf("%s: no event within the budget", name)
		}
		return event{}
	}
	first := map[string]event{}
	for name := range clients {
		first[name] = next(name)
		require.Equal(t, "status", first[name].name, name)
	}
	r.waitHeld(t, 2, 5*time.Second)
	require.NoError(t, r.jw.Signal(syscall.SIGTERM))
	require.NoError(t, r.jw.Wait(10*time.Second), "jobwait exits 0")

	require.NoError(t, old.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := io.ReadAll(old)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "an HTTP/1.0 stream cut by shutdown ends with a reset")

	// The client reconnects to the other replica, which holds it; then
	// the result arrives.
	streamtest.Eventually(t, 15*time.Second, "the client held by the other replica", func() bool { return heldWaiters(other.URL()) == 1 })
	require.NoError(t, r.jobs.Complete(context.Background(), j))
	for name := range clients {
		e := next(name)
		for e.name == "status" {
			e = next(name)
		}
		assert.Equal(t, "completed", e.name, name)
		assert.Contains(t, e.data, `"COMPLETED"`, name)
		d, _, _ := strings.Cut(first[name].id, "-")
		assert.Equal(t, d+"-", e.id[:len(d)+1], "%s: the original deadline kept (Last-Event-ID %s, then %s)", name, first[name].id, e.id)
		assert.True(t, strings.HasSuffix(e.id, "-end"), name)
		seq := func(id string) int {
			f := strings.Split(id, "-")
			n, _ := strconv.Atoi(f[1])
			return n
		}
		assert.Greater(t, seq(e.id), seq(first[name].id)+1, "%s: the sequence goes on from its Last-Event-ID", name)
		ms, _ := strconv.ParseInt(d, 10, 64)
		assert.True(t, time.Now().Before(time.UnixMilli(ms)), "%s: the result within the original deadline", name)
		t.Logf("%s: %s before SIGTERM, %s from the other replica, %v after it began", name, first[name].id, e.id, time.Since(started).Round(time.Millisecond))
	}
	cancel()
}

// TestStalledReadersShareTheAnswer: what the sockets of many clients that do
// not read could not take of a large answer is kept once, not once per
// client: the answer's body is shared by every waiter of the job.
func TestStalledReadersShareTheAnswer(t *testing.T) {
	t.Parallel()
	const clients, size = 40, 8 << 20
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET=20s")
	j := r.jobs.Jobs(t, 1)[0]
	for i := range clients {
		path := "/api/events/jobs/" + j.JobID + "/stream"
		if i%2 == 0 {
			path = "/api/events/jobs/" + j.JobID + "/status?wait=30"
		}
		c, err := smallReadBuffer.Dial("tcp", r.jw.Addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, servertest.RawGet(path))
		require.NoError(t, err)
	}
	r.waitHeld(t, clients, 10*time.Second)
	r.completeBig(t, j, size)
	// Each client's socket now holds a little of the answer, and jobwait the
	// rest: one copy of the body kept per client would be clients × 8 MB.
	streamtest.Eventually(t, 10*time.Second, "the answer fanned out", func() bool {
		return servertest.Metric(r.jw.URL(), "jobwait_hub_fanouts_total") >= clients
	})
	var heap float64 // the most in use over the next two seconds
	for range 20 {
		heap = max(heap, servertest.Metric(r.jw.URL(), "go_memstats_heap_inuse_bytes"))
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("heap in use with %d clients not reading an %d MB answer: %.0f MB", clients, size>>20, heap/(1<<20))
	assert.Less(t, heap, float64(clients*size/4), "the answer is kept once, not per client")
	assert.Equal(t, clients, heldWaiters(r.jw.URL()), "all still held: none read")
}
