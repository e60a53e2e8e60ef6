package main

// Out of file descriptors: jobwait runs under a lowered RLIMIT_NOFILE
// (prlimit, for the child only) and is flooded with idle connections that
// send nothing. It never exits: past its connection cap (or, with a cap
// above the file limit, at EMFILE) it refuses new connections at once with
// 503 SVC_001, keeps answering the waiters it holds, serves new requests
// as descriptors free up, logs the episode once and counts it in /metrics.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/admission"
	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/stream/streamtest"
)

// underFileLimit is a wrapper that runs jobwait with RLIMIT_NOFILE set to
// nofile (soft and hard), from its first instruction.
func underFileLimit(t *testing.T, nofile int) []string {
	t.Helper()
	path, err := exec.LookPath("prlimit")
	require.NoError(t, err, "prlimit is needed (util-linux): apt-get install -y util-linux")
	n := strconv.Itoa(nofile)
	return []string{path, "--nofile=" + n + ":" + n, "--"}
}

// idleConns opens n connections to addr that send nothing.
func idleConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err, "the kernel takes connections into the backlog whatever jobwait does")
		conns = append(conns, c)
	}
	return conns
}

// refusedConns counts the connections answered with jobwait's refusal (503
// SVC_001, Connection: close, then closed) within the given time; the others
// are held open, unanswered, by jobwait or by the kernel's backlog.
func refusedConns(t *testing.T, conns []net.Conn, within time.Duration) int {
	t.Helper()
	var (
		mu      sync.Mutex
		refused int
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(within)
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(deadline)
			var buf bytes.Buffer
			_, err := buf.ReadFrom(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				assert.Zero(t, buf.Len(), "an idle connection that is not refused gets nothing: %q", buf.String())
				return
			}
			resp := buf.String()
			assert.NoError(t, err, "a refusal ends with FIN, not a reset")
			if assert.True(t, strings.HasPrefix(resp, "HTTP/1.1 503 "), "%q", resp) {
				assert.Contains(t, resp, "Retry-After: ")
				assert.Contains(t, resp, "Connection: close\r\n")
				assert.Contains(t, resp, `"code":"SVC_001"`)
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return refused
}

// answersNewConnections waits until a request on a new connection is
// answered 200, then until the episode's end is logged: the first
// connection accepted after a quiet spell (2 s) ends it.
func (r *rig) answersNewConnections(t *testing.T, within time.Duration) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	get := func() bool {
		code, _, _, err := getJSON(c, r.jw.URL()+"/api/info")
		return err == nil && code == 200
	}
	streamtest.Eventually(t, within, "answering on a new connection", get)
	streamtest.Eventually(t, within, "the episode's end logged", func() bool {
		return get() && strings.Contains(r.jw.Log(), "accepting connections again")
	})
}

// TestOutOfDescriptorsRefusesPastTheCap: with the connection cap derived
// from a file limit of 512 (384), 200 held waiters and 400 idle
// connections on top (JOBWAIT_STRESS=1: 1,024, 500 and 1,100), jobwait refuses what exceeds the cap at once, stays
// up, answers every held waiter when its job completes, and answers new
// requests once the idle connections go.
func TestOutOfDescriptorsRefusesPastTheCap(t *testing.T) {
	const budget = 20 * time.Second
	nofile, held, extra := scaled(512, 1024), scaled(200, 500), scaled(400, 1100)
	r := newRigUnder(t, underFileLimit(t, nofile), nil, "JOBWAIT_WAIT_BUDGET="+budget.String(),
		"JOBWAIT_FIRST_BYTE_TIMEOUT=1m") // the flood stays for the test
	base := r.jw.URL()
	require.EqualValues(t, admission.MaxConnsFor(uint64(nofile)), servertest.Metric(base, "jobwait_connections_max"), "the default cap, from the file limit")

	jobs := r.jobs.Jobs(t, held)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)
	// Near the cap, idle kept-alive connections are reclaimed, and at it
	// new ones refused: /metrics is read after the flood on a connection
	// opened before it, which sends nothing until then.
	spare := idleConns(t, r.jw.Addr, 1)[0]
	before := int(servertest.Metric(base, "jobwait_connections_open"))
	assert.GreaterOrEqual(t, before, held)
	flood := idleConns(t, r.jw.Addr, extra)
	refused := refusedConns(t, flood, 2*time.Second)
	m, err := servertest.ReadMetricsOn(spare)
	require.NoError(t, err)
	open, reclaimed := m.Sum("jobwait_connections_open"), int(m.Sum("jobwait_connections_reclaimed_total"))
	max := admission.MaxConnsFor(uint64(nofile))
	t.Logf("%d of %d idle connections refused; %d open before, %v after, cap %d; %d kept-alive connections reclaimed",
		refused, extra, before, open, max, reclaimed)
	assert.Equal(t, extra-(max-before)-reclaimed, refused, "every connection past the cap is refused, the others let in")
	assert.LessOrEqual(t, reclaimed, before-held, "only connections idle between requests are reclaimed")
	assert.EqualValues(t, max, open, "open connections are at the cap")
	assert.EqualValues(t, refused, m.Sum("jobwait_connections_refused_total", "reason", "max_conns"))
	assert.EqualValues(t, refused, m.Sum("jobwait_connections_refused_total"))
	assert.Zero(t, m.Sum("jobwait_accept_errors_total"), "below the file limit, accept never fails")

	log := r.survives(t, jobs, &w, flood, budget)
	assert.Equal(t, 1, strings.Count(log, "refusing connections"), "one line for the episode:\n%s", log)
	assert.Equal(t, 1, strings.Count(log, "accepting connections again"), "and one for its end:\n%s", log)
}

// TestOutOfDescriptorsAtEMFILE: with the cap set above a file limit of 256,
// 100 held waiters and 300 idle connections on top (JOBWAIT_STRESS=1:
// 1,024, 500 and 1,100) run jobwait out of descriptors. Accepts fail with EMFILE and are retried; connections that
// arrive meanwhile are refused on the spare descriptor instead of waiting
// in the backlog; jobwait stays up, answers every held waiter, and answers
// new requests once the idle connections go.
func TestOutOfDescriptorsAtEMFILE(t *testing.T) {
	const budget = 20 * time.Second
	nofile, held, extra := scaled(256, 1024), scaled(100, 500), scaled(300, 1100)
	r := newRigUnder(t, underFileLimit(t, nofile), nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_MAX_CONNS=100000",
		"JOBWAIT_FIRST_BYTE_TIMEOUT=1m")
	base := r.jw.URL()
	require.EqualValues(t, 100000, servertest.Metric(base, "jobwait_connections_max"))
	assert.Contains(t, r.jw.Log(), "above the file limit", "the start warns of a cap above the file limit")

	jobs := r.jobs.Jobs(t, held)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)
	flood := idleConns(t, r.jw.Addr, extra)
	refused := refusedConns(t, flood, 2*time.Second)
	t.Logf("%d of %d idle connections refused at EMFILE; %v accept errors", refused, extra,
		servertest.Metric(base, "jobwait_accept_errors_total"))
	assert.Greater(t, refused, 0, "connections are refused on the spare descriptor")
	assert.Greater(t, servertest.Metric(base, "jobwait_accept_errors_total"), 0.0)
	assert.EqualValues(t, refused, servertest.Metric(base, "jobwait_connections_refused_total"))

	log := r.survives(t, jobs, &w, flood, budget)
	assert.NotContains(t, log, "Permanent error", "fasthttp never saw an accept error")
	assert.Equal(t, 1, strings.Count(log, "accepting connections fails"), "one line for the episode:\n%s", log)
	assert.Equal(t, 1, strings.Count(log, "accepting connections again"), "and one for its end:\n%s", log)
}

// survives completes jobs and checks that every held waiter got its result
// well within its budget; then closes the idle connections flood and checks
// that jobwait still runs and answers a new connection. It returns
// jobwait's log.
func (r *rig) survives(t *testing.T, jobs []store.Job, w *streamtest.Group[outcome], flood []net.Conn, budget time.Duration) string {
	t.Helper()
	for _, j := range jobs {
		require.NoError(t, r.jobs.Complete(context.Background(), j))
	}
	for _, o := range w.Wait(t, budget) {
		assert.True(t, o.completed(), "%v", o)
		assert.Less(t, o.ended.Sub(o.started), budget/2, "%v", o)
	}
	for _, c := range flood {
		c.Close()
	}
	r.answersNewConnections(t, 5*time.Second)
	assert.ErrorIs(t, r.jw.Wait(100*time.Millisecond), context.DeadlineExceeded, "jobwait runs")
	return r.jw.Log()
}
