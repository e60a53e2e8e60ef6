package main

// Connections as an attacker spends them: one address cannot take every
// connection slot (JOBWAIT_MAX_CONNS_PER_IP), idle keep-alive connections
// give way to new ones near the cap (never a request or a held wait), and
// a connection that sends nothing is cut after JOBWAIT_FIRST_BYTE_TIMEOUT.
// Each client plays from its own loopback address (servertest.From).

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/stream/streamtest"
)

// shortPoll polls path on a new connection from src and reads the whole
// answer, leaving the connection open (kept alive, unless refused).
func shortPoll(t *testing.T, src *servertest.Source, addr, path string, header ...string) (*servertest.Conn, []byte) {
	t.Helper()
	c, err := src.Get(addr, path, 5*time.Second, header...)
	require.NoError(t, err, "poll from %s", src.IP)
	t.Cleanup(func() { c.Close() })
	body, err := c.ReadAll(5 * time.Second)
	require.NoError(t, err)
	return c, body
}

// assertRefused checks a connection's refusal: 503 SVC_001, Retry-After,
// Connection: close.
func assertRefused(t *testing.T, c *servertest.Conn, body []byte) {
	t.Helper()
	assert.Equal(t, http.StatusServiceUnavailable, c.Resp.StatusCode)
	assert.Contains(t, string(body), `"code":"SVC_001"`)
	assert.NotEmpty(t, c.Resp.Header.Get("Retry-After"))
	assert.True(t, c.Resp.Close, "Connection: close")
}

// answeredWithinASecond requires a short poll from src, on a new
// connection, to be answered 200 within a second.
func answeredWithinASecond(t *testing.T, r *rig, src *servertest.Source, id string) {
	t.Helper()
	code, _, body, err := getJSON(src.Client(t, time.Second), statusURL(r.jw.URL(), id))
	require.NoError(t, err, "a poll from %s answered within a second", src.IP)
	assert.Equal(t, http.StatusOK, code, "a poll from %s: %v", src.IP, body)
}

// TestOneAddressCannotTakeEverySlot: one address holding idle keep-alive
// connections (one short poll each, with a forged X-Forwarded-For),
// connections that send nothing and connections stuck inside a request
// is refused past its share of the connection cap, by default an eighth;
// another address is still answered at once. Behind a trusted proxy the
// proxy's own connections are not capped per address.
func TestOneAddressCannotTakeEverySlot(t *testing.T) {
	const maxConns = 200
	env := []string{"JOBWAIT_MAX_CONNS=" + strconv.Itoa(maxConns), "JOBWAIT_MAX_CONNS_PER_IP=0", // 0: the default
		// Keep the silent and the slow connections for the whole test.
		"JOBWAIT_FIRST_BYTE_TIMEOUT=1m", "JOBWAIT_READ_TIMEOUT=1m"}
	t.Run("direct", func(t *testing.T) {
		r := newRig(t, nil, env...)
		job := r.jobs.Jobs(t, 1)[0]
		path := "/api/events/jobs/" + job.JobID + "/status"
		attacker := servertest.From("127.0.0.2")
		const silent, slow = 5, 5
		for range silent {
			attacker.MustDial(t, r.jw.Addr)
		}
		for range slow {
			c := attacker.MustDial(t, r.jw.Addr)
			_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: jobwait\r\n")
			require.NoError(t, err)
		}
		admitted := silent + slow
		for {
			c, body := shortPoll(t, attacker, r.jw.Addr, path, "X-Forwarded-For: 198.51.100.7")
			if c.Resp.StatusCode != http.StatusOK {
				assertRefused(t, c, body)
				break
			}
			admitted++
			require.Less(t, admitted, maxConns, "never refused")
		}
		assert.Equal(t, maxConns/8, admitted, "the default share: an eighth of the cap, every kind of connection counted")
		c, body := shortPoll(t, attacker, r.jw.Addr, path)
		assertRefused(t, c, body) // and still: a refusal frees nothing

		answeredWithinASecond(t, r, servertest.From("127.0.0.3"), job.JobID)
		base := r.jw.URL()
		assert.EqualValues(t, 2, servertest.Metric(base, "jobwait_connections_refused_total", "reason", "max_conns_per_ip"))
		assert.EqualValues(t, 2, servertest.Metric(base, "jobwait_connections_refused_total"), "no other refusal")
		assert.EqualValues(t, maxConns/8, servertest.Metric(base, "jobwait_connections_max_per_ip"))
		assert.Contains(t, r.jw.Log(), `"msg":"refusing an address's connections: at its share of the cap","addr":"127.0.0.2"`)
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		r := newRig(t, nil, append(env, "JOBWAIT_TRUSTED_PROXIES=127.0.0.4")...)
		job := r.jobs.Jobs(t, 1)[0]
		path := "/api/events/jobs/" + job.JobID + "/status"
		proxy := servertest.From("127.0.0.4")
		for i := range 2 * maxConns / 8 {
			c, _ := shortPoll(t, proxy, r.jw.Addr, path, "X-Forwarded-For: 198.51.100.7")
			require.Equal(t, http.StatusOK, c.Resp.StatusCode, "connection %d of the proxy", i+1)
		}
		assert.Zero(t, servertest.Metric(r.jw.URL(), "jobwait_connections_refused_total"))
	})
}

// TestIdleConnectionsGiveWayNearTheCap: held long polls and connections
// inside a request take part of the cap; four addresses, each within its
// share, fill the rest and more with idle keep-alive connections. Every
// one of their polls is answered: past the high-water mark each new
// connection closes the one idle longest, oldest first; a new client is
// answered within a second; no held wait and no request is cut.
func TestIdleConnectionsGiveWayNearTheCap(t *testing.T) {
	const maxConns, perIP, budget = 64, 16, 20 * time.Second
	r := newRig(t, nil, "JOBWAIT_MAX_CONNS="+strconv.Itoa(maxConns), "JOBWAIT_MAX_CONNS_PER_IP="+strconv.Itoa(perIP),
		"JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_READ_TIMEOUT=1m")
	jobs := r.jobs.Jobs(t, 9)
	held := *r
	held.http = servertest.From("127.0.0.6").Client(t, 0)
	var w streamtest.Group[outcome]
	for _, j := range jobs[:8] {
		w.Go(func() outcome { return held.longPoll(j.JobID, "20", budget) })
	}
	r.waitHeld(t, 8, 10*time.Second)
	var slow []net.Conn
	for range 4 {
		c := servertest.From("127.0.0.7").MustDial(t, r.jw.Addr)
		_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: jobwait\r\n")
		require.NoError(t, err)
		slow = append(slow, c)
	}

	// A long poll answered with its timeout, its connection kept alive for
	// the client's next poll: idle as well, but awaiting that request in
	// jobwait's held-connection code rather than in fasthttp.
	heldThenIdle, err := servertest.From("127.0.0.8").Get(r.jw.Addr, "/api/events/jobs/"+jobs[8].JobID+"/status?wait=1", budget)
	require.NoError(t, err)
	t.Cleanup(func() { heldThenIdle.Close() })
	body, err := heldThenIdle.ReadAll(5 * time.Second)
	require.NoError(t, err)
	require.Contains(t, string(body), `"timedOut":true`)
	require.False(t, heldThenIdle.Resp.Close, "kept alive")

	path := "/api/events/jobs/" + jobs[8].JobID + "/status"
	idle := []net.Conn{heldThenIdle} // in the order they went idle
	for i := range 4 * perIP {
		src := servertest.From("127.0.0." + strconv.Itoa(2+i/perIP))
		c, body := shortPoll(t, src, r.jw.Addr, path)
		require.Equal(t, http.StatusOK, c.Resp.StatusCode, "idle connection %d from %s: %s", i+1, src.IP, body)
		idle = append(idle, c)
	}
	answeredWithinASecond(t, r, servertest.From("127.0.0.9"), jobs[8].JobID)

	closed := closedConns(idle)
	t.Logf("%d of %d idle connections closed", countTrue(closed), len(idle))
	assert.True(t, closed[0], "the connection idle after a held answer, idle longest, was closed")
	for i := 1; i < len(closed); i++ {
		if closed[i] && !closed[i-1] {
			t.Errorf("idle connection %d closed, %d (idle longer) not: %v", i+1, i, closed)
		}
	}
	base := r.jw.URL()
	assert.GreaterOrEqual(t, servertest.Metric(base, "jobwait_connections_reclaimed_total"), float64(countTrue(closed)))
	assert.LessOrEqual(t, servertest.Metric(base, "jobwait_connections_open"), float64(maxConns))
	assert.Zero(t, servertest.Metric(base, "jobwait_connections_refused_total"))
	for i, cut := range closedConns(slow) {
		assert.False(t, cut, "connection %d inside a request was closed", i+1)
	}
	for _, j := range jobs[:8] {
		require.NoError(t, r.jobs.Complete(context.Background(), j))
	}
	for _, o := range w.Wait(t, budget) {
		assert.True(t, o.completed(), "a held wait is never reclaimed: %v", o)
	}
}

// closedConns reports, for each connection, whether the server has closed
// it: it reads EOF (or a reset) within a moment, rather than nothing.
func closedConns(conns []net.Conn) []bool {
	closed := make([]bool, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			var b [1]byte
			_, err := c.Read(b[:])
			var ne net.Error
			closed[i] = err != nil && !(errors.As(err, &ne) && ne.Timeout())
		})
	}
	wg.Wait()
	return closed
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestSilentConnectionsCutAtTheFirstByteTimeout: connections that send
// nothing are answered 408 and closed once JOBWAIT_FIRST_BYTE_TIMEOUT
// passes, long before JOBWAIT_READ_TIMEOUT; a request whose first byte
// comes in time may take the read timeout for the rest; a kept-alive
// connection may stay idle past the first-byte timeout; a half-closed
// connection is let go at once.
func TestSilentConnectionsCutAtTheFirstByteTimeout(t *testing.T) {
	const firstByte, readTimeout = time.Second, 30 * time.Second
	r := newRig(t, nil, "JOBWAIT_FIRST_BYTE_TIMEOUT="+firstByte.String(), "JOBWAIT_READ_TIMEOUT="+readTimeout.String())
	src := servertest.From("127.0.0.2")
	const n = 20
	var g streamtest.Group[error]
	for range n {
		c := src.MustDial(t, r.jw.Addr)
		start := time.Now()
		g.Go(func() error {
			resp, body := answerOf(t, c, readTimeout)
			if resp == nil {
				return errors.New("no answer before the read timeout")
			}
			assert.Less(t, time.Since(start), readTimeout/3, "cut long before the read timeout")
			assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
			assert.Contains(t, string(body), `"code":"REQ_004"`)
			return nil
		})
	}

	// A first byte in time, the rest trickled past the first-byte timeout.
	c := src.MustDial(t, r.jw.Addr)
	req := "GET /healthz HTTP/1.1\r\nHost: jobwait\r\n\r\n"
	for i := range req {
		_, err := io.WriteString(c, req[i:i+1])
		require.NoError(t, err)
		time.Sleep(2 * firstByte / time.Duration(len(req)))
	}
	resp, _ := answerOf(t, c, 5*time.Second)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the first byte in time, the rest within the read timeout")

	// Kept alive past the first-byte timeout.
	kept, _ := shortPoll(t, src, r.jw.Addr, "/healthz")
	require.Equal(t, http.StatusOK, kept.Resp.StatusCode)
	time.Sleep(2 * firstByte)
	require.NoError(t, kept.Again("/healthz", 5*time.Second))
	assert.Equal(t, http.StatusOK, kept.Resp.StatusCode, "an idle kept-alive connection is not cut at the first-byte timeout")

	for _, err := range g.Wait(t, readTimeout) {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, n, servertest.Metric(r.jw.URL(), "jobwait_connections_silent_total"))

	// Half-closed before a byte: the server closes its side at once.
	hc := src.MustDial(t, r.jw.Addr).(*net.TCPConn)
	require.NoError(t, hc.CloseWrite())
	require.NoError(t, hc.SetReadDeadline(time.Now().Add(firstByte/2)))
	_, err := io.ReadAll(hc)
	assert.NoError(t, err, "closed by the server before the first-byte timeout")
}

// answerOf reads one response from c within limit; nil if none came.
func answerOf(t *testing.T, c net.Conn, limit time.Duration) (*http.Response, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}
