package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/proc"
	"jobwait/cmd/waitload/report"
	"jobwait/server/servertest"
	"jobwait/store/redistest"
)

// TestMain also serves as the holder process of -procs: the test binary is
// what os.Executable names when a run has more than one process.
func TestMain(m *testing.M) {
	if proc.IsChild() {
		os.Exit(proc.Serve(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestCommandLine runs waitload as a user does, against the real jobwait
// and a real Redis: the flags, the holder processes, the table and the
// three files.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobwait and redis-server")
	}
	rs := redistest.Start(t)
	p := servertest.Start(t, "REDIS_URL="+rs.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET=5s", "JOBWAIT_LOG_LEVEL=warn")
	p.WaitReady(t, 20*time.Second)

	t.Run("files and holder processes", func(t *testing.T) { commandLineFiles(t, p.URL(), rs.URL()) })
	t.Run("https", func(t *testing.T) {
		// jobwait behind a TLS proxy whose certificate only -ca-cert vouches for.
		up, err := url.Parse(p.URL())
		require.NoError(t, err)
		proxy := httptest.NewTLSServer(&httputil.ReverseProxy{
			Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(up) },
			FlushInterval: -1,
		})
		defer proxy.Close()
		ca := filepath.Join(t.TempDir(), "ca.pem")
		require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o644))
		args := []string{"-target", proxy.URL, "-redis", rs.URL(), "-mode", "sse", "-waiters", "40", "-jobs", "10",
			"-budget", "5s", "-hold", "100ms", "-timeout", "60s", "-quiet"}

		code, stdout, stderr := waitload(append(args, "-ca-cert", ca)...)
		require.Equal(t, 0, code, "stderr: %s", stderr)
		assert.Regexp(t, `delivered +40\n`, stdout)
		assert.NotContains(t, stderr, "warning", "the settings match the server's")

		code, _, stderr = waitload(args...)
		assert.Equal(t, 1, code, "not trusted without -ca-cert")
		assert.Contains(t, stderr, "certificate signed by unknown authority")
	})

	t.Run("thresholds", func(t *testing.T) {
		args := []string{"-target", p.URL(), "-redis", rs.URL(), "-mode", "sse", "-waiters", "20", "-jobs", "5",
			"-budget", "5s", "-hold", "100ms", "-timeout", "60s", "-quiet"}
		code, stdout, stderr := waitload(append(args, "-threshold", "errors<1%", "-threshold", "delivered >= 99%", "-threshold", "sse.p99<30s")...)
		assert.Equal(t, 0, code, "stderr: %s", stderr)
		assert.Regexp(t, `threshold +passed +sse\.p99<30s +sse +p99 `, stdout)
		assert.Contains(t, stdout, "verdict: passed")

		jsonPath := filepath.Join(t.TempDir(), "r.json")
		code, stdout, stderr = waitload(append(args, "-threshold", "errors<1%", "-threshold", "delivered<50%", "-json", jsonPath)...)
		assert.Equal(t, 3, code, "a threshold failed: %s", stderr)
		assert.Contains(t, stdout, "verdict: FAILED\n  delivered<50% failed on sse: delivered 100.0 %\n")
		assert.Contains(t, stderr, "waitload: FAILED: delivered<50% failed on sse: delivered 100.0 %")
		rep, err := report.ReadJSON(jsonPath)
		require.NoError(t, err)
		require.NotNil(t, rep.Verdict)
		assert.False(t, rep.Verdict.Passed)
		require.Len(t, rep.Verdict.Thresholds, 2)
		assert.True(t, rep.Verdict.Thresholds[0].Passed, "errors<1%")
		assert.False(t, rep.Verdict.Thresholds[1].Passed, "delivered<50%")
	})

	t.Run("503 to everything", func(t *testing.T) {
		// What a proxy in front of a server that is down answers: not one
		// waiter gets through, and the run says so with its exit code.
		refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"SVC_002","message":"Redis unreachable"}`))
		}))
		defer refuse.Close()
		code, stdout, stderr := waitload("-target", refuse.URL, "-redis", rs.URL(), "-mode", "all", "-waiters", "30", "-jobs", "3",
			"-budget", "2s", "-hold", "0s", "-settle", "0s", "-timeout", "60s", "-quiet")
		assert.Equal(t, 3, code, "stderr: %s", stderr)
		assert.Contains(t, stderr, "waitload: warning: the server's settings not read (jobwait /api/info: http 503")
		for _, m := range []string{"poll", "longpoll"} {
			assert.Contains(t, stderr, m+": 30 of 30 waits did not get their result (30 × http 503 SVC_002 until the budget ran out): most waits failed")
		}
		assert.Contains(t, stderr, "sse: 30 of 30 waits did not get their result (30 × http 503 SVC_002): most waits failed")
		assert.Contains(t, stdout, "verdict: FAILED")
	})

	t.Run("budget differs", func(t *testing.T) {
		code, stdout, stderr := waitload("-target", p.URL(), "-redis", rs.URL(), "-mode", "longpoll", "-waiters", "20", "-jobs", "5",
			"-budget", "4s", "-hold", "100ms", "-timeout", "60s", "-quiet")
		assert.Equal(t, 0, code, "a warning, not a failure: %s", stderr)
		want := "-budget 4s, but the server's wait budget is 5s: the waiters give up before the server would answer them"
		assert.Contains(t, stderr, "waitload: warning: "+want)
		assert.Contains(t, stdout, "warning: "+want, "in the report too")
	})
}

// TestWithoutRedis runs waitload where it cannot write Redis, against the
// real jobwait in demo mode on its embedded store: jobs started through the
// demo endpoint (-create-url) or listed (-ids-file), completed by jobwait's
// own stand-in producer, some FAILED.
func TestWithoutRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobwait")
	}
	p := servertest.Start(t, "JOBWAIT_DEMO=true", "JOBWAIT_DEMO_DELAY=1s", "JOBWAIT_DEMO_FAIL_RATE=0.3",
		"JOBWAIT_WAIT_BUDGET=5s", "JOBWAIT_LOG_LEVEL=warn")
	p.WaitReady(t, 20*time.Second)
	run := func(t *testing.T, args ...string) *report.Report {
		t.Helper()
		jsonPath := filepath.Join(t.TempDir(), "r.json")
		code, stdout, stderr := waitload(append(args, "-target", p.URL(), "-budget", "5s", "-hold", "100ms",
			"-timeout", "60s", "-quiet", "-json", jsonPath)...)
		require.Equal(t, 0, code, "stderr: %s", stderr)
		assert.NotContains(t, stdout, "redis cmds", "no Redis, no Redis figures")
		assert.Contains(t, stdout, "latency: from each waiter's first request")
		rep, err := report.ReadJSON(jsonPath)
		require.NoError(t, err)
		assert.Equal(t, report.FromRequest, rep.LatencyFrom)
		assert.Empty(t, rep.Redis)
		return rep
	}

	t.Run("create-url", func(t *testing.T) {
		rep := run(t, "-create-url", "/api/events/{draft}/ai-recommendations", "-mode", "sse", "-waiters", "20", "-jobs", "10")
		assert.Equal(t, report.JobsCreated, rep.JobSource)
		m := rep.Modes[0]
		assert.Equal(t, 20, m.Delivered+m.Failed, "every waiter answered: %+v", m.ErrorKinds)
		assert.Zero(t, m.Errors+m.Timeouts)
		assert.Equal(t, m.Delivered, m.Latency.Count)
		assert.Positive(t, m.Latency.Min, "from the first request to the answer")
		assert.Zero(t, m.Completed, "waitload completed nothing")
	})

	t.Run("ids-file", func(t *testing.T) {
		var ids []string
		for k := range 5 {
			resp, err := http.Post(p.URL()+"/api/events/draft-"+strconv.Itoa(k)+"/ai-recommendations", "", nil)
			require.NoError(t, err)
			var created struct{ JobID string }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
			resp.Body.Close()
			ids = append(ids, created.JobID)
		}
		file := filepath.Join(t.TempDir(), "ids")
		require.NoError(t, os.WriteFile(file, []byte("# five jobs and one that is not\n"+strings.Join(ids, "\n")+"\n\nno-such-job\n"), 0o644))
		rep := run(t, "-ids-file", file, "-mode", "longpoll", "-waiters", "12")
		assert.Equal(t, report.JobsListed, rep.JobSource)
		assert.Equal(t, 6, rep.Jobs)
		m := rep.Modes[0]
		assert.Equal(t, 10, m.Delivered+m.Failed, "two waiters on each listed job")
		assert.Equal(t, map[string]int{"http 404 JOB_001": 2}, m.ErrorKinds, "two on the job that is not")
		assert.Equal(t, m.Delivered, m.Latency.Count)
	})

	t.Run("create-url refused", func(t *testing.T) {
		code, _, stderr := waitload("-target", p.URL(), "-create-url", "/api/events/{draft}/nowhere", "-mode", "sse",
			"-waiters", "2", "-jobs", "1", "-budget", "5s", "-quiet")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "create a job: POST "+p.URL()+"/api/events/wl-")
		assert.Contains(t, stderr, "/nowhere: http 404")
	})
}

// waitload runs the command line; it returns the exit code and what was
// written to stdout and stderr.
func waitload(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = realMain(args, &out, &errs)
	return code, out.String(), errs.String()
}

// commandLineFiles runs the waiters in two holder processes and writes the
// three files.
func commandLineFiles(t *testing.T, target, redisURL string) {
	dir := t.TempDir()
	jsonPath, htmlPath, timeline := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.timeline")
	code, stdout, stderr := waitload("-target", target, "-redis", redisURL, "-mode", "sse",
		"-waiters", "100", "-jobs", "10", "-rate", "500", "-procs", "2",
		"-budget", "5s", "-hold", "200ms", "-sources", "2", "-timeout", "60s",
		"-json", jsonPath, "-html", htmlPath, "-timeline", timeline, "-quiet")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "latency p99 ms")
	rep, err := report.ReadJSON(jsonPath)
	require.NoError(t, err)
	require.Len(t, rep.Modes, 1)
	assert.Equal(t, 100, rep.Modes[0].Delivered, "errors %v", rep.Modes[0].ErrorKinds)
	assert.Equal(t, 2, rep.Procs)
	assert.FileExists(t, htmlPath)
	assert.FileExists(t, timeline)
}
