package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/deploy/nginxtest"
	"jobwait/server/servertest"
	"jobwait/stream/streamtest"
	"jobwait/web"
)

// behindNginx is j as a browser sees it through deploy/nginx.conf over
// HTTP/1.1: the same Redis, nginx's URL.
func behindNginx(t *testing.T, j *jobwait) *jobwait {
	t.Helper()
	plain, _ := nginxtest.Proxy(t, j.Proc.Addr)
	nj := *j
	nj.URL = "http://" + plain
	return &nj
}

// recordWaits installs window.__w on the page: what the waits it starts
// (with startWait) report, with the time of each final callback.
const recordWaits = `window.__w = {status: {}, final: {}, at: {}, transports: [], done: 0};
window.__cb = function (single) {
  const w = window.__w;
  const fin = (name) => function (b, id) {
    id = single ? single : id;
    w.final[id] = name + ':' + (b.code || b.status || '');
    w.at[id] = Date.now();
  };
  return {
    onStatus(b, id) { w.status[single || id] = b.status; },
    onCompleted: fin('completed'), onFailed: fin('failed'), onTimeout: fin('timeout'), onError: fin('error'),
    onTransport(n) { w.transports.push(n); },
    onDone() { w.done++; },
  };
};
''`

// startMany starts jobwait.waitMany(ids, opts) on the page, recording into
// window.__w; extra is more options as a JS object literal's body.
func (p *tab) startMany(t *testing.T, ids []string, extra string) {
	t.Helper()
	list, _ := json.Marshal(ids)
	p.importClient(t)
	p.eval(t, recordWaits)
	p.eval(t, fmt.Sprintf(`window.__h = jobwait.waitMany(%s, Object.assign(__cb(), {%s})); ''`, list, extra))
}

// finalOf is what the page's wait reported as id's end ("completed:COMPLETED"), or "".
func (p *tab) finalOf(t *testing.T, id string) string {
	t.Helper()
	return p.eval(t, fmt.Sprintf(`__w.final[%q] || ''`, id))
}

// at is when (Unix ms, the page's clock) the page got id's end.
func (p *tab) at(t *testing.T, id string) time.Time {
	t.Helper()
	ms, err := strconv.ParseInt(p.eval(t, fmt.Sprintf(`String(__w.at[%q] || 0)`, id)), 10, 64)
	require.NoError(t, err)
	return time.UnixMilli(ms)
}

// TestWaitManyThroughNginx: a page waits for 8 jobs, more than a browser's
// 6 HTTP/1.1 connections per host, through nginx with waitMany: one
// stream; each result reaches the page when written, and the page's other
// requests are answered meanwhile.
func TestWaitManyThroughNginx(t *testing.T) {
	t.Parallel()
	const budget = 30 * time.Second
	j := behindNginx(t, startJobwait(t, "JOBWAIT_DEMO=false"))
	var ids []string
	for i := range 8 {
		id := fmt.Sprintf("web-many-%d", i)
		j.setJob(t, id, "PENDING", "draft-"+id)
		ids = append(ids, id)
	}
	p := openPage(t, j, "/")
	p.startMany(t, ids, "")
	p.waitFor(t, `Object.keys(__w.status).length === 8`, "every job's first state")
	assert.Equal(t, `["sse"]`, p.eval(t, `JSON.stringify(__w.transports)`))

	// Another request of the page is answered at once: the stream holds
	// one connection of six.
	p.eval(t, `window.__fetchMs = ''; (async () => { const t0 = performance.now(); await (await fetch('/api/info')).json(); __fetchMs = String(performance.now() - t0); })(); ''`)
	p.waitFor(t, `__fetchMs !== ''`, "the fetch beside the stream")
	ms := p.eval(t, `__fetchMs`)
	took, err := strconv.ParseFloat(ms, 64)
	require.NoError(t, err, "fetch took %q", ms)
	assert.Less(t, took, float64(budget/time.Millisecond)/2, "a fetch beside the stream must not wait for it")
	t.Logf("fetch beside the stream: %.0f ms", took)

	for i, id := range ids {
		wrote := time.Now()
		if i%4 == 3 {
			j.fail(t, id, "draft-"+id, "모델 오류")
		} else {
			j.complete(t, id, "draft-"+id)
		}
		p.waitFor(t, fmt.Sprintf(`!!__w.final[%q]`, id), id+"'s result")
		got := p.at(t, id).Sub(wrote)
		assert.Less(t, got, budget, "%s reached the page %v after its write", id, got)
		t.Logf("%s: on the page %v after its write", id, got)
	}
	for i, id := range ids {
		want := "completed:COMPLETED"
		if i%4 == 3 {
			want = "failed:FAILED"
		}
		assert.Equal(t, want, p.finalOf(t, id))
	}
	assert.Equal(t, "1", p.eval(t, `String(__w.done)`), "onDone once")
	assert.False(t, p.requested("/web-many-0/stream"), "no one-job stream")
}

// TestWaitManyAcrossReplicaRestart: the only replica behind nginx restarts
// mid-wait (nginx answers 502 meanwhile, which closes EventSource for
// good); the client resumes and gets the result written while the replica
// was down.
func TestWaitManyAcrossReplicaRestart(t *testing.T) {
	t.Parallel()
	first := startJobwait(t, "JOBWAIT_DEMO=false")
	j := behindNginx(t, first)
	ids := []string{"web-restart-a", "web-restart-b"}
	for _, id := range ids {
		j.setJob(t, id, "PROCESSING", "draft-"+id)
	}
	p := openPage(t, j, "/")
	p.startMany(t, ids, "")
	p.waitFor(t, `Object.keys(__w.status).length === 2`, "every job's first state")
	j.complete(t, ids[0], "draft-"+ids[0])
	p.waitFor(t, fmt.Sprintf(`!!__w.final[%q]`, ids[0]), "the first result")

	// A crash: the stream drops without the spread retry: of a graceful
	// shutdown, so EventSource reconnects after the stream's own retry:
	// (2 s), within the gap.
	require.NoError(t, first.Proc.Signal(syscall.SIGKILL))
	require.ErrorContains(t, first.Proc.Wait(5*time.Second), "killed")
	// nginx has no replica: what a reconnect gets now.
	resp, err := http.Get(j.URL + "/api/events/jobs/stream?ids=" + ids[1])
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	j.complete(t, ids[1], "draft-"+ids[1])
	time.Sleep(4 * time.Second) // the gap, longer than EventSource's retry (2 s): the client meets 502s
	servertest.StartAt(t, first.Proc.Addr, "REDIS_URL="+first.RedisURL, "JOBWAIT_DEMO=false").WaitReady(t, 10*time.Second)

	// The gap's failed attempts make nginx (deploy/nginx.conf: max_fails=3
	// fail_timeout=10s) answer 502 for up to 10 s after the replica is
	// back, and the client's reopens back off up to 8 s meanwhile.
	p.waitForWithin(t, 25*time.Second, fmt.Sprintf(`!!__w.final[%q]`, ids[1]), "the result written while the replica was down")
	assert.Equal(t, "completed:COMPLETED", p.finalOf(t, ids[1]))
	assert.Equal(t, "completed:COMPLETED", p.finalOf(t, ids[0]), "reported once")
	// How the client got there is a race with the restart, and each way is
	// a resume: the browser's own reconnect (Last-Event-ID, after the
	// shutdown's spread retry:), the stream reopened after a 502 (with
	// ?lastEventId=), or the one status read after a closed stream.
}

// TestWaitManyRecoversFrom503: the replica of a stream shuts down and the
// reconnect lands on a full one, which answers 503 SVC_001 (that closes
// EventSource for good). The client reopens the stream no sooner than
// Retry-After, resuming with ?lastEventId=, and gets the result once there
// is room. A switch in front of the replicas stands in for a load balancer
// that sends the reconnect elsewhere.
func TestWaitManyRecoversFrom503(t *testing.T) {
	t.Parallel()
	first := startJobwait(t, "JOBWAIT_DEMO=false")
	full := servertest.Start(t, "REDIS_URL="+first.RedisURL, "JOBWAIT_DEMO=false", "JOBWAIT_MAX_WAITERS=1")
	full.WaitReady(t, 10*time.Second)
	first.setJob(t, "web-full-hold", "PROCESSING", "draft-hold")
	first.setJob(t, "web-full-a", "PROCESSING", "draft-a")

	// Someone else holds the full replica's only waiter.
	held := make(chan error, 1)
	go func() {
		resp, err := http.Get(full.URL() + "/api/events/jobs/web-full-hold/status?wait=30")
		if err == nil {
			resp.Body.Close()
		}
		held <- err
	}()
	// The hold first: a probe that came before it would take the slot.
	streamtest.EventuallyEqual(t, 10*time.Second, "the hold admitted", 1.0, func() float64 {
		return servertest.Metric(full.URL(), "jobwait_waiters", "kind", "longpoll")
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(full.URL() + "/api/events/jobs/status?ids=web-full-a&wait=1")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 20*time.Millisecond, "the replica never got full")

	// The switch: first's streams until it goes, then full's.
	var (
		mu      sync.Mutex
		to      = first.URL
		streams []struct {
			at   time.Time
			code int
		}
	)
	sw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		target := to
		mu.Unlock()
		u, _ := url.Parse(target)
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.FlushInterval = -1
		rp.ModifyResponse = func(resp *http.Response) error {
			if strings.HasSuffix(r.URL.Path, "/stream") {
				mu.Lock()
				streams = append(streams, struct {
					at   time.Time
					code int
				}{time.Now(), resp.StatusCode})
				mu.Unlock()
			}
			return nil
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(sw.Close)

	p := openPage(t, &jobwait{URL: sw.URL}, "/")
	p.startMany(t, []string{"web-full-a"}, "")
	p.waitFor(t, `__w.status['web-full-a'] === 'PROCESSING'`, "the stream open")
	mu.Lock()
	to = full.URL()
	mu.Unlock()
	first.Proc.Kill() // its stream ends without a final event: EventSource reconnects
	count503 := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range streams {
			if s.code == http.StatusServiceUnavailable {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return count503() >= 2 }, 20*time.Second, 20*time.Millisecond,
		"the reconnect and a reopen met the full replica")
	// The page's requests reach the test through Chrome's event stream,
	// which may lag behind the proxy under load.
	assert.Eventually(t, func() bool { return p.requested("lastEventId=") }, 5*time.Second, 20*time.Millisecond,
		"the stream was reopened where it left off")

	first.complete(t, "web-full-hold", "draft-hold")
	require.NoError(t, <-held)
	first.complete(t, "web-full-a", "draft-a")
	p.waitFor(t, `!!__w.final['web-full-a']`, "the result once there is room")
	assert.Equal(t, "completed:COMPLETED", p.finalOf(t, "web-full-a"))

	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(streams); i++ {
		if streams[i-1].code == http.StatusServiceUnavailable {
			assert.GreaterOrEqual(t, streams[i].at.Sub(streams[i-1].at), 1900*time.Millisecond,
				"a stream reopened %v after a 503 with Retry-After: 2", streams[i].at.Sub(streams[i-1].at))
		}
	}
}

// TestFallbackKeepsOneDeadline: a stream that never opens, a long poll cut
// by the network, then the plain poll: the wait still ends at its one
// deadline, for wait and waitMany alike, and the long poll asked only for
// the time left.
func TestFallbackKeepsOneDeadline(t *testing.T) {
	t.Parallel()
	const budget = 7 * time.Second
	var (
		mu    sync.Mutex
		waits []int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><title>t</title><main></main>`)
		case r.URL.Path == "/client/jobwait.js":
			http.ServeFileFS(w, r, web.Files, "client/jobwait.js")
		case strings.HasSuffix(r.URL.Path, "/stream"):
			<-r.Context().Done() // never answers: EventSource stays CONNECTING
		case r.URL.Query().Get("wait") != "":
			n, _ := strconv.Atoi(r.URL.Query().Get("wait"))
			mu.Lock()
			waits = append(waits, n)
			mu.Unlock()
			time.Sleep(500 * time.Millisecond)
			c, _, err := w.(http.Hijacker).Hijack() // cut: a network error
			if err == nil {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			ids := strings.Split(r.URL.Query().Get("ids"), ",")
			if r.URL.Query().Get("ids") == "" {
				fmt.Fprint(w, `{"jobId":"one","status":"PROCESSING","message":"m"}`)
				return
			}
			var b strings.Builder
			b.WriteString(`{"jobs":[`)
			for i, id := range ids {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"jobId":%q,"status":"PENDING","message":"m"}`, id)
			}
			b.WriteString(`]}`)
			fmt.Fprint(w, b.String())
		}
	}))
	t.Cleanup(srv.Close)

	p := openPage(t, &jobwait{URL: srv.URL}, "/")
	p.importClient(t)
	p.eval(t, recordWaits)
	start := time.Now()
	opts := fmt.Sprintf(`budgetMs: %d`, budget.Milliseconds())
	p.eval(t, fmt.Sprintf(`window.__h1 = jobwait.waitMany(['m1', 'm2'], Object.assign(__cb(), {%s})); window.__h2 = jobwait.wait('one', Object.assign(__cb('one'), {%s})); ''`, opts, opts))
	for _, id := range []string{"m1", "m2", "one"} {
		p.waitFor(t, fmt.Sprintf(`!!__w.final[%q]`, id), id+"'s end")
		end := p.at(t, id)
		assert.Equal(t, "timeout:PENDING", strings.Replace(p.finalOf(t, id), "PROCESSING", "PENDING", 1), id)
		assert.False(t, end.Before(start.Add(budget-200*time.Millisecond)), "%s ended %v before its deadline", id, start.Add(budget).Sub(end))
		assert.Less(t, end.Sub(start), budget+time.Second, "%s ended %v after its deadline", id, end.Sub(start.Add(budget)))
	}
	assert.Equal(t, `["longpoll","longpoll","poll","poll","sse","sse"]`, p.eval(t, `JSON.stringify(__w.transports.slice().sort())`), "each wait went through every transport")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, waits)
	for _, n := range waits {
		assert.LessOrEqual(t, n, int((budget-3*time.Second)/time.Second), "a long poll after the stream's fallback asks for the time left, not a budget")
	}
}

// TestPageListsEveryAnalysis: the page lists every analysis this browser
// started, kept in localStorage, each with its state, all waited for
// through one many-job stream; the single-job view stays as it is.
func TestPageListsEveryAnalysis(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=true", "JOBWAIT_DEMO_DELAY=1500ms", "JOBWAIT_DEMO_FAIL_RATE=0")
	p := openPage(t, j, "/")
	drafts := []string{"draft-list-1", "draft-list-2", "draft-list-3"}
	for i, d := range drafts {
		p.eval(t, fmt.Sprintf(`document.querySelector('#draft-id').value = %q; document.querySelector('#start').click(); ''`, d))
		p.waitFor(t, fmt.Sprintf(`document.querySelectorAll('#history-list li').length === %d`, i+1), d+" listed")
	}
	p.waitFor(t, `[...document.querySelectorAll('#history-list li')].every((li) => li.dataset.state === 'COMPLETED')`, "every analysis completed in the list")
	assert.True(t, p.visible(t, "#history"), "#history shown")
	assert.Equal(t, "draft-list-3", p.text(t, "#history-list li:first-child a"), "newest first")
	assert.True(t, p.requested("/api/events/jobs/stream?ids="), "the list waits on the many-job stream")
	// The single-job view shows the last analysis as before.
	p.waitState(t, "completed")
	assert.Equal(t, 3, p.count(t, ".card"), "the demo's recommendations")

	// Kept across a reload: listed with their final states, nothing to wait for.
	require.NoError(t, chromedp.Do(p.ctx, chromedp.Reload()))
	p.waitFor(t, `document.querySelectorAll('#history-list li[data-state="COMPLETED"]').length === 3`, "the list after a reload")
}

// ignoreCertificates lets the tab trust the self-signed certificate of a
// test's nginx.
func ignoreCertificates(t *testing.T, ctx context.Context) {
	_, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
	require.NoError(t, err)
}

// TestTenWaitsOverHTTP2: through nginx's TLS server, a page's ten one-job
// streams share one HTTP/2 connection: every result is delivered, none
// waits for a free connection.
func TestTenWaitsOverHTTP2(t *testing.T) {
	t.Parallel()
	j := startJobwait(t, "JOBWAIT_DEMO=false")
	_, tls := nginxtest.Proxy(t, j.Proc.Addr)
	h2 := *j
	h2.URL = "https://" + tls
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("web-h2-%d", i)
		j.setJob(t, id, "PROCESSING", "draft-"+id)
		ids = append(ids, id)
	}
	p := openPage(t, &h2, "/", ignoreCertificates)
	assert.Equal(t, "h2", p.eval(t, `performance.getEntriesByType('navigation')[0].nextHopProtocol`), "the page came over HTTP/2")
	p.importClient(t)
	p.eval(t, recordWaits)
	for _, id := range ids {
		p.eval(t, fmt.Sprintf(`jobwait.wait(%q, __cb(%q)); ''`, id, id))
	}
	p.waitFor(t, `Object.keys(__w.status).length === 10`, "every stream open")
	for _, id := range ids {
		j.complete(t, id, "draft-"+id)
	}
	p.waitFor(t, `Object.keys(__w.final).length === 10`, "every result")
	for _, id := range ids {
		assert.Equal(t, "completed:COMPLETED", p.finalOf(t, id))
	}
	assert.Equal(t, `["sse"]`, p.eval(t, `JSON.stringify([...new Set(__w.transports)])`), "all ten over SSE")
	assert.Equal(t, "h2", p.eval(t, `[...new Set(performance.getEntriesByType('resource').filter((e) => e.name.includes('/stream')).map((e) => e.nextHopProtocol))].join()`),
		"the streams went over HTTP/2")
}
