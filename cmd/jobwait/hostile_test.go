package main

// Hostile input: whatever a client sends is answered with SPEC.md §3's
// JSON, touches nothing else, and reaches Redis only as a validated job id
// inside a fixed key name. Parsers are fuzzed in store/fuzz_test.go and
// server/fuzz_test.go; these tests drive the real binary over raw TCP, so
// that fasthttp's own limits are part of what is tested.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/stream/streamtest"
)

// rawResponse writes req on a new connection and reads one response. A
// server that refuses a request it has not read to the end may reset the
// connection once it has answered: what was answered is still read.
func rawResponse(t *testing.T, addr, req string) (*http.Response, map[string]string) {
	t.Helper()
	c := rawRequest(t, addr, req)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "reading the answer to %.80q", req)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body map[string]string
	assert.NoError(t, json.Unmarshal(data, &body), "answer %d %.200q is JSON {code,message}", resp.StatusCode, data)
	return resp, body
}

// assertServing checks that jobwait still answers a normal request.
func assertServing(t *testing.T, r *rig) {
	t.Helper()
	resp, err := r.http.Get(r.jw.URL() + "/healthz")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}

// TestOversizedAndMalformedRequests: what fasthttp refuses before any
// handler runs (a request line or headers past the 8 KiB read buffer, a
// body past 4 KiB, a line that is not HTTP) is still answered with JSON.
// fasthttp does not tell a long request line from long headers: both are
// 431, never 414. A method fiber does not know is 405 like any other; a
// line with no HTTP version is malformed (400).
func TestOversizedAndMalformedRequests(t *testing.T) {
	r := newRig(t, nil, "JOBWAIT_DEMO=true")
	tests := []struct {
		name string
		req  string
		code int
		err  string
	}{
		{"long request line", servertest.RawGet("/api/events/jobs/" + strings.Repeat("a", 10000) + "/status"), 431, "REQ_004"},
		{"long query", servertest.RawGet("/api/events/jobs/a/status?wait=" + strings.Repeat("9", 10000)), 431, "REQ_004"},
		{"long header", servertest.RawGet("/healthz", "X-Junk: "+strings.Repeat("j", 10000)), 431, "REQ_004"},
		{"many headers", servertest.RawGet("/healthz", strings.Repeat("X-Junk: jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj\r\n", 300)+"X-End: 1"), 431, "REQ_004"},
		{"long Last-Event-ID", servertest.RawGet("/api/events/jobs/a/stream", "Last-Event-ID: "+strings.Repeat("1", 9000)), 431, "REQ_004"},
		{"body too large", "POST /api/events/draft-1/ai-recommendations HTTP/1.1\r\nHost: jobwait\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("b", 100000), 413, "REQ_004"},
		{"bad content length", "POST /api/events/draft-1/ai-recommendations HTTP/1.1\r\nHost: jobwait\r\nContent-Length: -5\r\n\r\n", 400, "REQ_004"},
		{"no request target", "GET\r\n\r\n", 400, "REQ_004"},
		{"unknown method", "BREW /api/events/jobs/a/status HTTP/1.1\r\nHost: jobwait\r\n\r\n", 405, "REQ_002"},
		{"not HTTP at all", "HELLO THERE\r\n\r\n", 400, "REQ_004"}, // a request line without a version is malformed
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawResponse(t, r.jw.Addr, tt.req)
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Equal(t, tt.err, body["code"])
			assert.NotEmpty(t, body["message"])
			assertServing(t, r)
		})
	}
}

// TestRequestFramedTwiceIsRefused: a request whose body could be framed two
// ways (Content-Length and Transfer-Encoding, or two Content-Lengths that
// differ), which a proxy in front may frame differently from fasthttp, is
// answered REQ_004 and its connection closed after the answer: what the
// client sent behind it, here a second request, is never served.
func TestRequestFramedTwiceIsRefused(t *testing.T) {
	r := newRig(t, nil, "JOBWAIT_DEMO=true")
	behind := servertest.RawGet("/healthz")
	for _, headers := range []string{
		"Content-Length: 5\r\nTransfer-Encoding: chunked",
		"Transfer-Encoding: chunked\r\nContent-Length: 5",
		"Content-Length: 0\r\nContent-Length: 5",
	} {
		t.Run(headers, func(t *testing.T) {
			c := rawRequest(t, r.jw.Addr, "GET /api/events/jobs/a/status HTTP/1.1\r\nHost: jobwait\r\n"+headers+"\r\n\r\n0\r\n\r\n"+behind)
			require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			data, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 400, resp.StatusCode)
			var body map[string]string
			require.NoError(t, json.Unmarshal(data, &body), "%q", data)
			assert.Equal(t, "REQ_004", body["code"])
			assert.NotEmpty(t, body["message"])
			assert.True(t, resp.Close, "the answer says the connection ends")
			rest, err := io.ReadAll(br)
			assert.NoError(t, err, "the connection ends with a FIN")
			assert.Empty(t, string(rest), "the request behind it is not served")
		})
	}
	assertServing(t, r)
}

// TestSlowHeadersAreCutOff: clients that send their headers a byte at a
// time (slowloris) are answered 408 and cut off once the read timeout has
// passed, however they trickle, while other clients are served meanwhile.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	const readTimeout = time.Second
	r := newRig(t, nil, "JOBWAIT_READ_TIMEOUT="+readTimeout.String())
	n := scaled(50, 500)
	var wg sync.WaitGroup
	cut := make(chan time.Duration, n)
	for range n {
		c := rawRequest(t, r.jw.Addr, "GET /healthz HTTP/1.1\r\nHost: jobwait\r\n")
		start := time.Now()
		wg.Go(func() {
			// Trickle one header byte every 100 ms until the server hangs up.
			for time.Since(start) < 10*readTimeout {
				if _, err := c.Write([]byte("X")); err != nil {
					break
				}
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				var b [1]byte
				if _, err := c.Read(b[:]); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						continue
					}
				}
				break // answered (408) or closed
			}
			cut <- time.Since(start)
		})
	}
	assertServing(t, r)
	wg.Wait()
	close(cut)
	for d := range cut {
		assert.Less(t, d, readTimeout+2*time.Second, "a slow client cut off after the read timeout")
	}
	resp, body := rawResponse(t, r.jw.Addr, "GET /healthz HTTP/1.1\r\nHost: jobwait\r\nX-Slow: ")
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.Equal(t, "REQ_004", body["code"])
}

// TestStatusEndpointsAllowOnlyGETAndHEAD: every other method is 405 REQ_002
// with Allow, and touches nothing.
func TestStatusEndpointsAllowOnlyGETAndHEAD(t *testing.T) {
	r := newRig(t, nil)
	j := r.jobs.Jobs(t, 1)[0]
	for _, action := range []string{"status", "stream"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"} {
			req, _ := http.NewRequest(m, r.jw.URL()+"/api/events/jobs/"+j.JobID+"/"+action, strings.NewReader("{}"))
			resp, err := r.http.Do(req)
			require.NoError(t, err)
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s %s", m, action)
			assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"), "%s %s", m, action)
			assert.JSONEq(t, `{"code":"REQ_002","message":"허용되지 않는 메서드입니다"}`, string(data), "%s %s", m, action)
		}
	}
	got, err := r.jobs.Read(context.Background(), j.JobID)
	require.NoError(t, err)
	assert.Equal(t, "PENDING", string(got.Job.Status), "the job is untouched")
}

// TestAbsurdWaitValues: a wait that is not a whole number of seconds or a
// duration is REQ_001; one past the budget is clamped to it, so it is held
// no longer than the budget.
func TestAbsurdWaitValues(t *testing.T) {
	const budget = time.Second
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	j := r.jobs.Jobs(t, 1)[0]
	bad := []string{"-1", "-5s", "1.5", "1e9", "NaN", "Inf", "0x10", "abc", "30s;DROP", "%00", "%20", "5%0A", "1d",
		strings.Repeat("9", 33), "30,30", "1s2", "s"}
	for _, w := range bad {
		code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID)+"?wait="+w)
		require.NoError(t, err, w)
		assert.Equal(t, 400, code, "wait=%s", w)
		assert.Equal(t, "REQ_001", body["code"], "wait=%s", w)
	}
	var wg sync.WaitGroup
	for _, w := range []string{"31", "18446744073709551615", "99999999999999999999", "1000h", "2562047h", "9223372036854775807ns", "9223372036854775808ns",
		"2562047h47m16.854775808s", "2562047h47m17s", "9999999999h9999999999m"} { // past the largest Duration, in parts
		wg.Go(func() {
			o := r.longPoll(j.JobID, w, budget+slack)
			assert.True(t, o.timedOutWaiting(), "wait=%s: %v", w, o)
			assert.Less(t, o.ended.Sub(o.started), budget+time.Second, "wait=%s held no longer than the budget", w)
		})
	}
	wg.Wait()
	code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID)+"?wait=0")
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Nil(t, body["timedOut"], "wait=0 is a short poll")
}

// TestForgedLastEventIDBuysNoTime: a Last-Event-ID with a deadline far in
// the future (or nonsense) gets one budget, not more.
func TestForgedLastEventIDBuysNoTime(t *testing.T) {
	t.Parallel()
	const budget = time.Second
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	j := r.jobs.Jobs(t, 1)[0]
	far := strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMilli(), 10)
	var wg sync.WaitGroup
	for _, id := range []string{far + "-1", "9223372036854775807-1", far + "-18446744073709551615", "x-y", "-1--1", strings.Repeat("9", 64)} {
		wg.Go(func() {
			start := time.Now()
			req, _ := http.NewRequest(http.MethodGet, streamURL(r.jw.URL(), j.JobID), nil)
			req.Header.Set("Last-Event-ID", id)
			resp, err := r.http.Do(req)
			if !assert.NoError(t, err, id) {
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, id)
			assert.Contains(t, string(data), "event: timeout", id)
			assert.Less(t, time.Since(start), budget+time.Second, "Last-Event-ID %q held no longer than the budget", id)
		})
	}
	wg.Wait()
}

// hostile are client inputs meant to reach Redis as something other than a
// job id: globs, separators, other keys, command injection, encodings.
// Each holds the marker EVIL and none is a valid id, so EVIL must never
// show in Redis's MONITOR.
var hostile = []string{
	"EVIL*", "*EVIL", "EVIL?", "[EVIL]", "job:EVIL", "EVIL:error", "EVIL\r\nFLUSHALL", "EVIL\nDEL job:x",
	"EVIL FLUSHALL", "EVIL\x00", "../EVIL", "EVIL/../../x", "EVIL%2A", "EVIL%00", "EVIL\\x2a", "EVIL'\"`$(x)",
	"ai:recommendation:EVIL", "__keyspace@0__:EVIL", "EVIL" + strings.Repeat("a", 70), "EVIL한글", "EVIL\t",
}

// TestHostileInputNeverReachesRedis watches every command Redis receives
// (MONITOR) while clients send hostile ids, parameters, headers and bodies
// every way jobwait reads them. Every key is a job key, error key or
// recommendation key of a valid id, and nothing a client sent reaches
// Redis in any other form.
func TestHostileInputNeverReachesRedis(t *testing.T) {
	r := newRig(t, nil, "JOBWAIT_DEMO=true", "JOBWAIT_WAIT_BUDGET=1s", "JOBWAIT_TRUSTED_PROXIES=127.0.0.1/32",
		"JOBWAIT_MAX_WAITERS_PER_IP=1000", "JOBWAIT_CORS_ORIGINS=https://events.example.com")
	mon := monitor(t, r.redis.Addr())
	valid := r.jobs.Jobs(t, 1)[0]

	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	send := func(req string) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", r.jw.Addr, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, req)
			_, _ = io.Copy(io.Discard, c)
		})
	}
	for _, h := range hostile {
		esc := url.PathEscape(h)
		q := url.QueryEscape(h)
		clean := strings.NewReplacer("\r", "", "\n", "", "\x00", "").Replace(h) // what fits in a header
		for _, p := range []string{
			"/api/events/jobs/" + esc + "/status", "/api/events/jobs/" + esc + "/status?wait=1",
			"/api/events/jobs/" + esc + "/stream", "/api/events/jobs/" + esc + "/x/status",
			"/api/events/jobs/" + valid.JobID + "/status?wait=" + q, "/api/events/jobs/" + valid.JobID + "/status?jobId=" + q,
			"/?jobId=" + q, "/api/info?x=" + q, "/readyz?" + q,
		} {
			send("GET " + p + " HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\n\r\n")
		}
		// Raw, unescaped, as a hostile client may send it.
		send("GET /api/events/jobs/" + h + "/status HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\n\r\n")
		for _, hdr := range []string{"Last-Event-ID", "X-Forwarded-For", "Origin", "Cookie", "User-Agent", "Referer"} {
			send("GET /api/events/jobs/" + valid.JobID + "/stream HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\n" + hdr + ": " + clean + "\r\n\r\n")
			send("GET /api/events/jobs/" + valid.JobID + "/status?wait=1 HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\n" + hdr + ": " + clean + "\r\n\r\n")
		}
		body := `{"eventDraftId":"` + clean + `"}`
		send("POST /api/events/" + esc + "/ai-recommendations HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body)
		send("POST /api/events/jobs/" + esc + "/status HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}
	// A legitimate demo job, so that the producer's writes are seen too.
	send("POST /api/events/draft-ok/ai-recommendations HTTP/1.1\r\nHost: jobwait\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	wg.Wait()

	cmds := mon.stop(t)
	require.NotEmpty(t, cmds, "MONITOR saw jobwait's reads")
	keyRE := regexp.MustCompile(`^(job:[A-Za-z0-9_-]{1,64}(:error)?|ai:recommendation:[A-Za-z0-9_-]{1,64})$`)
	keyed := map[string]bool{"get": true, "hgetall": true, "set": true, "del": true, "exists": true, "type": true, "ttl": true, "pttl": true, "pexpire": true, "expire": true}
	// Commands without a key, with every argument spelled out.
	fixed := regexp.MustCompile(`^(ping|ping jobwait-opened|monitor|config get notify-keyspace-events|config set notify-keyspace-events [A-Za-z$]+|` +
		`psubscribe __keyspace@0__:job:\*|punsubscribe.*|hello [23].*|client setinfo (lib-name|lib-ver) [A-Za-z0-9().,_ -]+|client maint_notifications.*|info cluster|cluster info|select 0)$`)
	seen := map[string]int{}
	for _, c := range cmds {
		if c.client == mon.self {
			continue
		}
		for _, a := range c.args {
			assert.NotContains(t, strings.ToUpper(a), "EVIL", "client input reached Redis: %q", c.args)
		}
		name := strings.ToLower(c.args[0])
		seen[name]++
		if keyed[name] {
			if assert.GreaterOrEqual(t, len(c.args), 2, "%q", c.args) {
				assert.Regexp(t, keyRE, c.args[1], "key of %q", c.args)
			}
			continue
		}
		if name == "mget" { // every argument is a key
			for _, k := range c.args[1:] {
				assert.Regexp(t, keyRE, k, "key of %q", c.args)
			}
			continue
		}
		if name == "subscribe" || name == "unsubscribe" { // every argument is a job key's channel
			for _, ch := range c.args[1:] {
				k, ok := strings.CutPrefix(ch, "__keyspace@0__:")
				assert.True(t, ok, "channel of %q", c.args)
				assert.Regexp(t, keyRE, k, "channel of %q", c.args)
			}
			continue
		}
		assert.Regexp(t, fixed, strings.ToLower(strings.Join(c.args, " ")), "a command jobwait should not send")
	}
	t.Logf("%d hostile inputs, MONITOR saw %d commands: %v", len(hostile), len(cmds), seen)
	assert.Positive(t, seen["get"], "jobwait read job keys")
	assert.Positive(t, seen["set"], "the demo producer wrote")
}

// monitored is one command MONITOR reported.
type monitored struct {
	client string // ip:port
	args   []string
}

// monitorConn is a connection in MONITOR mode.
type monitorConn struct {
	c    net.Conn
	self string // its own client address, to leave its commands out
	mu   sync.Mutex
	cmds []monitored
	done chan struct{}
	err  error
}

// monitor starts MONITOR on addr; stop ends it and returns what it saw.
func monitor(t *testing.T, addr string) *monitorConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	m := &monitorConn{c: c, self: c.LocalAddr().String(), done: make(chan struct{})}
	br := bufio.NewReader(c)
	_, err = io.WriteString(c, "MONITOR\r\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", line)
	go func() {
		defer close(m.done)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			cmd, err := parseMonitorLine(strings.TrimRight(line, "\r\n"))
			m.mu.Lock()
			if err != nil && m.err == nil {
				m.err = err
			} else if err == nil {
				m.cmds = append(m.cmds, cmd)
			}
			m.mu.Unlock()
		}
	}()
	return m
}

// stop ends MONITOR after a final PING from another connection has come
// through, so that every command sent before is in.
func (m *monitorConn) stop(t *testing.T) []monitored {
	t.Helper()
	c, err := net.DialTimeout("tcp", m.c.RemoteAddr().String(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	mark := fmt.Sprintf("monitor-end-%d", time.Now().UnixNano())
	_, err = io.WriteString(c, "ECHO "+mark+"\r\n")
	require.NoError(t, err)
	streamtest.Eventually(t, 5*time.Second, "MONITOR caught up", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for i := len(m.cmds) - 1; i >= 0; i-- {
			if len(m.cmds[i].args) == 2 && m.cmds[i].args[1] == mark {
				return true
			}
		}
		return false
	})
	m.c.Close()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	require.NoError(t, m.err)
	var out []monitored
	for _, cmd := range m.cmds {
		if len(cmd.args) == 2 && cmd.args[1] == mark {
			continue
		}
		out = append(out, cmd)
	}
	return out
}

// parseMonitorLine reads `+1700000000.123456 [0 127.0.0.1:5555] "GET" "job:x"`.
func parseMonitorLine(line string) (monitored, error) {
	open, close := strings.IndexByte(line, '['), strings.IndexByte(line, ']')
	if !strings.HasPrefix(line, "+") || open < 0 || close < open {
		return monitored{}, fmt.Errorf("MONITOR line %q", line)
	}
	var m monitored
	if f := strings.Fields(line[open+1 : close]); len(f) == 2 {
		m.client = f[1]
	}
	rest := strings.TrimSpace(line[close+1:])
	for rest != "" {
		if rest[0] != '"' {
			return monitored{}, fmt.Errorf("MONITOR line %q", line)
		}
		var b strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'x':
					if i+2 < len(rest) {
						v, err := strconv.ParseUint(rest[i+1:i+3], 16, 8)
						if err == nil {
							b.WriteByte(byte(v))
							i += 2
							continue
						}
					}
				case 'n':
					b.WriteByte('\n')
					continue
				case 'r':
					b.WriteByte('\r')
					continue
				case 't':
					b.WriteByte('\t')
					continue
				}
			}
			b.WriteByte(rest[i])
		}
		m.args = append(m.args, b.String())
		rest = strings.TrimSpace(rest[min(i+1, len(rest)):])
	}
	if len(m.args) == 0 {
		return monitored{}, fmt.Errorf("MONITOR line %q", line)
	}
	return m, nil
}
