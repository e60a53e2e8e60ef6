package main

// Overload and cross-origin: past JOBWAIT_MAX_WAITERS (and, when set, past
// JOBWAIT_MAX_WAITERS_PER_IP for one client) new waits are refused with
// SVC_001 and Retry-After while held ones keep being served; CORS is off
// unless JOBWAIT_CORS_ORIGINS names the pages that may call the API.

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"jobwait/stream/streamtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refused checks that a wait is refused with 503 SVC_001 and Retry-After.
func refused(t *testing.T, r *rig, url string, header ...string) {
	t.Helper()
	code, h, body, err := getJSON(r.http, url, header...)
	require.NoError(t, err, url)
	assert.Equal(t, http.StatusServiceUnavailable, code, url)
	assert.Equal(t, "SVC_001", body["code"], url)
	assert.NotEmpty(t, h.Get("Retry-After"), url)
}

// TestMaxWaitersRefusesPastTheCap: with every waiter slot taken, new long
// polls and streams of running jobs are refused, those of missing or final
// jobs answered truthfully, short polls still answered, and the held waiters
// all get their results.
func TestMaxWaitersRefusesPastTheCap(t *testing.T) {
	const max, budget = 20, 20 * time.Second
	r := newRig(t, nil, "JOBWAIT_MAX_WAITERS=20", "JOBWAIT_WAIT_BUDGET="+budget.String())
	jobs := r.jobs.Jobs(t, max+1)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs[:max], budget)

	extra := jobs[max].JobID
	refused(t, r, statusURL(r.jw.URL(), extra)+"?wait=5")
	refused(t, r, streamURL(r.jw.URL(), extra))
	code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), extra))
	require.NoError(t, err)
	assert.Equal(t, 200, code, "a short poll holds nothing and is answered")
	assert.Equal(t, "PENDING", body["status"])

	// At the cap a wait is read once, as a short poll: a job that does
	// not exist, or is final, is answered truthfully; only a job that
	// would have to be held is refused.
	missing := "no-such-job-" + extra
	for _, url := range []string{statusURL(r.jw.URL(), missing) + "?wait=5", streamURL(r.jw.URL(), missing)} {
		code, _, body, err := getJSON(r.http, url)
		require.NoError(t, err, url)
		assert.Equal(t, http.StatusNotFound, code, url)
		assert.Equal(t, "JOB_001", body["code"], url)
	}
	done := r.jobs.Jobs(t, 1)[0]
	require.NoError(t, r.jobs.Complete(context.Background(), done))
	code, _, body, err = getJSON(r.http, statusURL(r.jw.URL(), done.JobID)+"?wait=5")
	require.NoError(t, err)
	assert.Equal(t, 200, code, "a final job at the cap")
	assert.Equal(t, "COMPLETED", body["status"])
	o := r.sse(done.JobID, budget, nil)
	assert.True(t, o.completed(), "a final job's stream at the cap: %v", o)

	for _, j := range jobs[:max] {
		require.NoError(t, r.jobs.Complete(context.Background(), j))
	}
	for _, o := range w.Wait(t, budget) {
		assert.True(t, o.completed(), "%v", o)
		assert.Less(t, o.ended.Sub(o.started), budget/2, "%v", o)
	}
	o = r.longPoll(extra, "1", budget)
	assert.True(t, o.timedOutWaiting(), "a slot is free again: %v", o)
}

// TestMaxWaitersPerIP: one client address holds at most its share. The
// address is the peer's unless the peer is a trusted proxy; then it is the
// last untrusted hop of X-Forwarded-For, so a forged hop to its left buys
// nothing.
func TestMaxWaitersPerIP(t *testing.T) {
	const perIP, budget = 3, 20 * time.Second
	t.Run("direct", func(t *testing.T) {
		r := newRig(t, nil, "JOBWAIT_MAX_WAITERS_PER_IP=3", "JOBWAIT_WAIT_BUDGET="+budget.String())
		jobs := r.jobs.Jobs(t, perIP+1)
		var w streamtest.Group[outcome]
		r.holdMix(t, &w, jobs[:perIP], budget)
		extra := jobs[perIP].JobID
		refused(t, r, statusURL(r.jw.URL(), extra)+"?wait=5")
		refused(t, r, streamURL(r.jw.URL(), extra))
		// From an untrusted peer, X-Forwarded-For is not believed.
		refused(t, r, statusURL(r.jw.URL(), extra)+"?wait=5", "X-Forwarded-For", "198.51.100.77")

		require.NoError(t, r.jobs.Complete(context.Background(), jobs[0]))
		r.waitHeld(t, perIP-1, 5*time.Second)
		o := r.longPoll(extra, "1", budget)
		assert.True(t, o.timedOutWaiting(), "a slot of this client is free again: %v", o)
		for _, j := range jobs[1:perIP] {
			require.NoError(t, r.jobs.Complete(context.Background(), j))
		}
		for _, o := range w.Wait(t, budget) {
			assert.True(t, o.completed(), "%v", o)
		}
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		r := newRig(t, nil, "JOBWAIT_MAX_WAITERS_PER_IP=3", "JOBWAIT_WAIT_BUDGET="+budget.String(),
			"JOBWAIT_TRUSTED_PROXIES=127.0.0.0/8, 10.0.0.0/8")
		jobs := r.jobs.Jobs(t, 2*perIP)
		held := make(chan outcome, 2*perIP)
		wait := func(id, xff string) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, statusURL(r.jw.URL(), id)+"?wait=20", nil)
				req.Header.Set("X-Forwarded-For", xff)
				o := outcome{kind: "longpoll", job: id, started: time.Now()}
				resp, err := r.http.Do(req)
				if err == nil {
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					o.code = resp.StatusCode
					o.readBody(data)
				}
				o.err, o.ended = err, time.Now()
				held <- o
			}()
		}
		// Client A fills its share through two proxies; client B still gets in.
		for _, j := range jobs[:perIP] {
			wait(j.JobID, "198.51.100.1, 10.0.0.9")
		}
		r.waitHeld(t, perIP, 10*time.Second)
		refused(t, r, statusURL(r.jw.URL(), jobs[perIP].JobID)+"?wait=5", "X-Forwarded-For", "198.51.100.1")
		refused(t, r, statusURL(r.jw.URL(), jobs[perIP].JobID)+"?wait=5", "X-Forwarded-For", "203.0.113.50, 198.51.100.1", "X-Forwarded-For", "10.0.0.3")
		for _, j := range jobs[perIP:] {
			wait(j.JobID, "198.51.100.2")
		}
		r.waitHeld(t, 2*perIP, 10*time.Second)
		for _, j := range jobs {
			require.NoError(t, r.jobs.Complete(context.Background(), j))
		}
		for range 2 * perIP {
			select {
			case o := <-held:
				assert.True(t, o.completed(), "%v", o)
			case <-time.After(budget):
				t.Fatal("a held waiter was not answered")
			}
		}
	})
}

// TestCORS: off by default (no Access-Control headers, a preflight is just
// another OPTIONS: 405); with an allow-list, listed origins may read
// answers and streams and get preflights answered, others get nothing.
func TestCORS(t *testing.T) {
	const page = "https://events.example.com"
	t.Run("off by default", func(t *testing.T) {
		r := newRig(t, nil)
		j := r.jobs.Jobs(t, 1)[0]
		code, h, _, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID), "Origin", page)
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
		resp := preflight(t, r, statusURL(r.jw.URL(), j.JobID), page)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("allow-list", func(t *testing.T) {
		r := newRig(t, nil, "JOBWAIT_CORS_ORIGINS="+page+", http://localhost:3000", "JOBWAIT_WAIT_BUDGET=1s")
		j := r.jobs.Jobs(t, 1)[0]
		for _, url := range []string{statusURL(r.jw.URL(), j.JobID), statusURL(r.jw.URL(), j.JobID) + "?wait=1", streamURL(r.jw.URL(), j.JobID)} {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Origin", page)
			resp, err := r.http.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, url)
			assert.Equal(t, page, resp.Header.Get("Access-Control-Allow-Origin"), url)
			assert.Contains(t, resp.Header.Values("Vary"), "Origin", url)
		}
		code, h, _, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID), "Origin", "https://evil.example.net")
		require.NoError(t, err)
		assert.Equal(t, 200, code)
		assert.Empty(t, h.Get("Access-Control-Allow-Origin"), "an origin off the list")

		resp := preflight(t, r, streamURL(r.jw.URL(), j.JobID), page)
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Equal(t, page, resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "GET")
		assert.Contains(t, strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "last-event-id")
		resp = preflight(t, r, streamURL(r.jw.URL(), j.JobID), "https://evil.example.net")
		assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "no preflight for an origin off the list")
	})
}

func preflight(t *testing.T, r *rig, url, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "last-event-id")
	resp, err := r.http.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestParseConfigLimits reads the settings of slow clients, per-client
// caps, trusted proxies and CORS.
func TestParseConfigLimits(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.Server.ReadTimeout)
	assert.Equal(t, 64<<10, cfg.Server.MinReadRate)
	assert.Zero(t, cfg.Server.MaxWaitersPerIP, "no per-client cap by default")
	assert.Empty(t, cfg.Server.TrustedProxies, "no proxy trusted by default")
	assert.Empty(t, cfg.Server.CORSOrigins, "CORS off by default")

	cfg, err = parseConfig(nil, envOf(map[string]string{
		"JOBWAIT_READ_TIMEOUT":         "3s",
		"JOBWAIT_MIN_READ_RATE":        "1048576",
		"JOBWAIT_MAX_WAITERS_PER_IP":   "50",
		"JOBWAIT_TRUSTED_PROXIES":      "10.0.0.0/8, 192.168.1.7, fd00::/8, 10.1.2.3/8",
		"JOBWAIT_CORS_ORIGINS":         "https://events.example.com,http://localhost:3000",
		"JOBWAIT_MAX_WAITERS":          "10",
		"JOBWAIT_NOT_A_SETTING_AT_ALL": "x",
	}))
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, cfg.Server.ReadTimeout)
	assert.Equal(t, 1<<20, cfg.Server.MinReadRate)
	assert.Equal(t, 50, cfg.Server.MaxWaitersPerIP)
	assert.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.0.0.0/8"),
	}, cfg.Server.TrustedProxies)
	assert.Equal(t, []string{"https://events.example.com", "http://localhost:3000"}, cfg.Server.CORSOrigins)

	for env, val := range map[string]string{
		"JOBWAIT_READ_TIMEOUT":       "soon",
		"JOBWAIT_MAX_WAITERS_PER_IP": "-1",
		"JOBWAIT_MIN_READ_RATE":      "0",
		"JOBWAIT_TRUSTED_PROXIES":    "10.0.0.0/33",
		"JOBWAIT_CORS_ORIGINS":       "events.example.com",
	} {
		_, err := parseConfig(nil, envOf(map[string]string{env: val}))
		if assert.Error(t, err, "%s=%s", env, val) {
			assert.Contains(t, err.Error(), env, "the error names the setting")
		}
	}
}
