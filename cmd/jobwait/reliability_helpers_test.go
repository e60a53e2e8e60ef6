package main

// Helpers of the reliability, hostile-input and overload tests: a real
// jobwait (servertest) on a private redis-server (redistest), a producer
// writing Redis as the AI service does, and clients that wait the three
// ways and report how each wait ended.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/server/sse"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// stressed reports whether JOBWAIT_STRESS=1 asks for the large counts.
func stressed() bool { return os.Getenv("JOBWAIT_STRESS") == "1" }

// scaled is normal in the normal suite and large under JOBWAIT_STRESS=1.
func scaled(normal, large int) int {
	if stressed() {
		return large
	}
	return normal
}

// rig is one jobwait over one private redis-server.
type rig struct {
	redis *redistest.Server
	rdb   *redis.Client // the producer's and the test's own client
	jobs  *storetest.Producer
	jw    *servertest.Process
	http  *http.Client // one connection per concurrent wait
}

// newRig starts a redis-server with redisArgs and a jobwait on it with env
// (demo off unless env turns it on), and waits until jobwait is ready.
func newRig(t *testing.T, redisArgs []string, env ...string) *rig {
	t.Helper()
	return newRigUnder(t, nil, redisArgs, env...)
}

// newRigUnder is newRig with jobwait run by a wrapper command (see
// servertest.StartUnder).
//
// A rig's clients all come from 127.0.0.1 (but those dialled with
// servertest.From), however many clients they play: the per-address
// connection cap is lifted here, and set by the tests of it (conns_test.go),
// whose env comes later and wins.
func newRigUnder(t *testing.T, wrapper, redisArgs []string, env ...string) *rig {
	t.Helper()
	r := &rig{redis: redistest.Start(t, redisArgs...)}
	r.rdb = r.redis.Client(t)
	r.jobs = storetest.NewProducer(r.rdb, "rel")
	base := []string{"REDIS_URL=" + r.redis.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_MAX_CONNS_PER_IP=1000000000"}
	r.jw = servertest.StartUnder(t, wrapper, append(base, env...)...)
	r.jw.WaitReady(t, 10*time.Second)
	r.http = newHTTPClient(t)
	return r
}

func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4096, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func statusURL(base, id string) string { return base + "/api/events/jobs/" + id + "/status" }
func streamURL(base, id string) string { return base + "/api/events/jobs/" + id + "/stream" }

// outcome is how one wait ended, whichever way it waited.
type outcome struct {
	kind     string // "longpoll" or "sse"
	job      string
	code     int    // HTTP status
	status   string // "status" of the last body; "" for an error body
	errCode  string // "code" of an error body
	timedOut bool
	event    string // the last SSE event's name
	events   int    // SSE events received
	recs     int    // recommendations in a COMPLETED body
	started  time.Time
	ended    time.Time
	err      error // transport trouble, or no answer in time
}

func (o outcome) String() string {
	return fmt.Sprintf("%s %s: code %d status %q error %q timedOut %v event %q after %v (err %v)",
		o.kind, o.job, o.code, o.status, o.errCode, o.timedOut, o.event, o.ended.Sub(o.started).Round(time.Millisecond), o.err)
}

// completed reports whether the wait ended with the job's result.
func (o outcome) completed() bool {
	ok := o.err == nil && o.status == string(store.Completed) && o.recs == 3
	if o.kind == "sse" {
		return ok && o.event == "completed"
	}
	return ok && o.code == 200 && !o.timedOut
}

// timedOutWaiting reports whether the wait ended on its budget, the job
// still running.
func (o outcome) timedOutWaiting() bool {
	ok := o.err == nil && o.timedOut && (o.status == "PENDING" || o.status == "PROCESSING")
	if o.kind == "sse" {
		return ok && o.event == "timeout"
	}
	return ok && o.code == 200
}

// readBody fills an outcome from one JSON body.
func (o *outcome) readBody(data []byte) {
	var b struct {
		Status          string            `json:"status"`
		Code            string            `json:"code"`
		TimedOut        bool              `json:"timedOut"`
		Recommendations []json.RawMessage `json:"recommendations"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		o.err = fmt.Errorf("body %.200q: %w", data, err)
		return
	}
	o.status, o.errCode, o.timedOut, o.recs = b.Status, b.Code, b.TimedOut, len(b.Recommendations)
}

// longPoll waits for job id with ?wait=wait; limit bounds the whole request.
func (r *rig) longPoll(id, wait string, limit time.Duration) (o outcome) {
	o = outcome{kind: "longpoll", job: id, started: time.Now()}
	defer func() { o.ended = time.Now() }()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, statusURL(r.jw.URL(), id)+"?wait="+wait, nil)
	resp, err := r.http.Do(req)
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	o.code = resp.StatusCode
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		o.err = err
		return o
	}
	o.readBody(data)
	return o
}

// sse follows job id's stream until the server ends it; limit bounds it.
// opened, if not nil, is called once the response headers are in.
func (r *rig) sse(id string, limit time.Duration, opened func()) (o outcome) {
	o = outcome{kind: "sse", job: id, started: time.Now()}
	defer func() { o.ended = time.Now() }()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, streamURL(r.jw.URL(), id), nil)
	resp, err := r.http.Do(req)
	if opened != nil {
		opened()
	}
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	o.code = resp.StatusCode
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		data, _ := io.ReadAll(resp.Body)
		o.readBody(data)
		return o
	}
	events := sse.NewReader(resp.Body)
	for {
		ev, err := events.Next()
		if err != nil {
			if err != io.EOF {
				o.err = err
			}
			return o
		}
		o.event = ev.Type
		o.events++
		o.readBody([]byte(ev.Data))
	}
}

// getJSON GETs url with header (name, value pairs; a name may repeat) and
// returns the status code, the headers and the decoded JSON body.
func getJSON(c *http.Client, url string, header ...string) (int, http.Header, map[string]any, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("body %.200q: %w", data, err)
	}
	return resp.StatusCode, resp.Header, m, nil
}

// readyCode is /readyz's status code, 0 when jobwait does not answer.
func (r *rig) readyCode() int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(r.jw.URL() + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// heldWaiters is the sum of the jobwait_waiters gauge, -1 when /metrics
// cannot be read.
func heldWaiters(base string) int { return int(servertest.Metric(base, "jobwait_waiters")) }

// waitHeld waits until jobwait holds exactly n waiters.
func (r *rig) waitHeld(t *testing.T, n int, within time.Duration) {
	t.Helper()
	streamtest.EventuallyEqual(t, within, "waiters held", n, func() int { return heldWaiters(r.jw.URL()) })
}

// hubReads is jobwait_hub_job_reads_total: the jobs jobwait's hub has read.
func (r *rig) hubReads() float64 {
	return servertest.Metric(r.jw.URL(), "jobwait_hub_job_reads_total")
}

// waitFirstStates waits until jobwait holds n waiters and its hub has read
// n jobs since reads (hubReads before the waits were opened, one job each):
// every wait has its job's first state, so a change written from now on is
// one it waits for. The waiters gauge alone says less: it counts a wait
// from its admission, before its job is read, and a change written then is
// the wait's first state, answered at once rather than held.
func (r *rig) waitFirstStates(t *testing.T, n int, reads float64, within time.Duration) {
	t.Helper()
	r.waitHeld(t, n, within)
	streamtest.Eventually(t, within, "every job read", func() bool { return r.hubReads() >= reads+float64(n) })
}

// rawRequest opens a TCP connection to addr and writes req; the caller
// reads (or does not) and closes.
func rawRequest(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	return c
}

// smallReadBuffer dials with a 4 KB receive buffer, so that the server's
// writes wait on what the client reads rather than on the kernel's buffers.
var smallReadBuffer = net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}}

// completeBig completes j with a result of about size bytes of trend
// analysis (Korean text, three bytes a character), and returns the size.
func (r *rig) completeBig(t *testing.T, j store.Job, size int) {
	t.Helper()
	res := store.SampleResult(j.EventDraftID)
	res.TrendAnalysis = []byte(`{"summary":"` + strings.Repeat("가", size/3) + `"}`)
	_, err := r.jobs.Store.Complete(context.Background(), j, res)
	require.NoError(t, err)
}

// readAnswer reads one HTTP response from br, its body at most rate bytes
// per second (0: as fast as it comes).
func readAnswer(br *bufio.Reader, rate int) (*http.Response, []byte, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if rate <= 0 {
		data, err := io.ReadAll(resp.Body)
		return resp, data, err
	}
	data, err := throttled(resp.Body, rate)
	return resp, data, err
}

// throttled reads r to its end at most rate bytes per second, in 16 KB
// reads: a slow but steady client.
func throttled(r io.Reader, rate int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 16<<10)
	start := time.Now()
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if ahead := time.Duration(float64(len(out))/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
}

// balancer is a TCP load balancer in front of replicas: each connection
// goes to the first backend that accepts it, so that when one replica
// stops its clients reconnect to the next, as behind a real one in a
// rolling deploy. A backend's end (a FIN, or a reset, passed on as one)
// ends the client's connection alike.
type balancer struct {
	ln       net.Listener
	backends []string
}

func newBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &balancer{ln: ln, backends: backends}
	t.Cleanup(func() { ln.Close() })
	go b.serve()
	return b
}

// URL is the balancer's base URL.
func (b *balancer) URL() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c.(*net.TCPConn))
	}
}

func (b *balancer) forward(c *net.TCPConn) {
	var up net.Conn
	for _, addr := range b.backends {
		var err error
		if up, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
	}
	if up == nil {
		c.SetLinger(0)
		c.Close()
		return
	}
	go func() {
		_, _ = io.Copy(up, c)
		up.(*net.TCPConn).CloseWrite()
	}()
	_, err := io.Copy(c, up)
	if err != nil {
		c.SetLinger(0) // pass a reset on
	}
	c.Close()
	up.Close()
}
