package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
)

// TestMain also serves as the holder process of -procs: the test binary is
// what os.Executable names when a test runs with Procs > 1.
func TestMain(m *testing.M) {
	if isChild() {
		os.Exit(childMain(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// testBudget is jobwait's and the waiters' budget in these tests: short, so
// that a lost delivery shows as a timeout within seconds.
const testBudget = 5 * time.Second

// TestAgainstJobwait runs waitload's core against the real jobwait binary
// and a real Redis: every waiter of every mode must get its result, and
// every figure of the report must be there. Speed is never asserted.
func TestAgainstJobwait(t *testing.T) {
	rs := redistest.Start(t)
	base, pid := startJobwait(t, rs.URL())

	cfg := func(modes ...Mode) Config {
		return Config{
			Target: base, RedisURL: rs.URL(), Modes: modes,
			Waiters: 300, Jobs: 30, Rate: 300,
			Budget: testBudget, PollInterval: 2 * time.Second, // jobwait's Retry-After (1 s) wins
			Hold: time.Second, Settle: 2 * time.Second, Timeout: 90 * time.Second,
			Sources: 4, Procs: 1, DialConcurrency: 64, CPUPids: []int{pid},
		}
	}

	t.Run("every mode", func(t *testing.T) {
		c := cfg(AllModes...)
		var progress bytes.Buffer
		c.Progress = &syncWriter{w: &progress}
		rep, err := Run(context.Background(), c)
		require.NoError(t, err)
		require.Len(t, rep.Modes, len(AllModes))
		assert.NotEmpty(t, rep.Notify, "jobwait's notify mode from /readyz")
		for i, m := range rep.Modes {
			assert.Equal(t, AllModes[i], m.Mode)
			checkMode(t, m, c)
		}
		assert.Contains(t, progress.String(), "waitload poll", "progress lines")

		dir := t.TempDir()
		var table bytes.Buffer
		require.NoError(t, rep.writeTable(&table))
		for _, row := range tableRows {
			assert.Contains(t, table.String(), row.name)
		}
		require.NoError(t, rep.writeJSON(filepath.Join(dir, "r.json")))
		var back Report
		data, err := os.ReadFile(filepath.Join(dir, "r.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &back))
		assert.Equal(t, rep.Modes[2].Latency, back.Modes[2].Latency)
		assert.Equal(t, rep.Modes[1].Redis, back.Modes[1].Redis)

		require.NoError(t, rep.writeHTML(filepath.Join(dir, "r.html")))
		html, err := os.ReadFile(filepath.Join(dir, "r.html"))
		require.NoError(t, err)
		assert.Equal(t, 3, strings.Count(string(html), "<svg "), "one chart per mode")
		assert.Equal(t, 3, strings.Count(string(html), "<polyline "), "one curve per mode")
		assert.NotContains(t, string(html), "<script", "self-contained, no script")
		assert.NotContains(t, string(html), "https://", "no external assets")
	})

	t.Run("holder processes", func(t *testing.T) {
		// The command line end to end, with the waiters held by two
		// processes (this test binary, re-executed) and the report here.
		dir := t.TempDir()
		jsonPath, htmlPath, timeline := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.timeline")
		var stdout, stderr bytes.Buffer
		code := realMain([]string{
			"-target", base, "-redis", rs.URL(), "-mode", "sse",
			"-waiters", "200", "-jobs", "20", "-rate", "500", "-procs", "2",
			"-budget", testBudget.String(), "-hold", "1s", "-sources", "2", "-timeout", "60s",
			"-json", jsonPath, "-html", htmlPath, "-timeline", timeline, "-quiet",
		}, &stdout, &stderr)
		require.Equal(t, 0, code, "stderr: %s", stderr.String())
		assert.Contains(t, stdout.String(), "latency p99 ms")
		var rep Report
		data, err := os.ReadFile(jsonPath)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &rep))
		require.Len(t, rep.Modes, 1)
		c := cfg(ModeSSE)
		c.Waiters, c.Jobs = 200, 20
		checkMode(t, rep.Modes[0], c)
		assert.Equal(t, 2, rep.Procs)
		assert.FileExists(t, htmlPath)
		checkTimeline(t, timeline, rep.Modes[0])
	})

	t.Run("many-job stream", func(t *testing.T) {
		c := cfg(ModeSSEMany)
		c.JobsPerConn = 10
		rep, err := Run(context.Background(), c)
		require.NoError(t, err)
		require.Len(t, rep.Modes, 1)
		m := rep.Modes[0]
		assert.Equal(t, c.Waiters, m.Delivered, "delivered (errors %v)", m.ErrorKinds)
		assert.Equal(t, c.Waiters, m.HeldPeak, "held: every wait, ten per connection")
		assert.Zero(t, m.Errors, "errors %v", m.ErrorKinds)
		assert.Zero(t, m.Timeouts)
		assert.Equal(t, c.Waiters/c.JobsPerConn, m.Requests, "one request per stream of ten")
		assert.Equal(t, c.Waiters, m.Latency.Count)
	})

	t.Run("refuses other hosts", func(t *testing.T) {
		c := cfg(ModePoll)
		c.Target = "http://192.0.2.1:8080"
		_, err := Run(context.Background(), c)
		assert.ErrorIs(t, err, errNotLoopback)
	})
}

// checkMode asserts a mode delivered to every waiter and filled every figure.
func checkMode(t *testing.T, m ModeReport, c Config) {
	t.Helper()
	name := string(m.Mode)
	assert.Equal(t, c.Waiters, m.Waiters, name)
	assert.Equal(t, c.Jobs, m.Jobs, name)
	assert.Equal(t, c.Waiters, m.HeldPeak, "%s: held", name)
	assert.Equal(t, c.Waiters, m.Delivered, "%s: delivered (errors %v)", name, m.ErrorKinds)
	assert.Zero(t, m.Errors, "%s: errors %v", name, m.ErrorKinds)
	assert.Zero(t, m.Timeouts, "%s: timeouts", name)
	assert.Empty(t, m.Warnings, name)
	assert.GreaterOrEqual(t, m.Requests, c.Waiters, "%s: requests", name)
	assert.Equal(t, c.Jobs, m.Completed, "%s: completed", name)
	assert.Positive(t, m.CompletionRate, name)

	l := m.Latency
	assert.Equal(t, c.Waiters, l.Count, "%s: latencies", name)
	assert.Positive(t, l.Max, "%s: latency max", name)
	assert.True(t, l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max, "%s: ordered %+v", name, l)
	assert.Len(t, m.LatencyCurve, 101, name)
	clocksOrdered(t, m)

	r := m.Redis
	assert.Positive(t, r.HoldCommands, "%s: redis while held", name)
	assert.Equal(t, int64(producerCommands*c.Jobs), r.Producer, "%s: producer commands", name)
	assert.GreaterOrEqual(t, r.ByCommand["set"], r.Producer, "%s: SETs", name)
	assert.Positive(t, r.Net, "%s: jobwait's commands", name)
	assert.Positive(t, r.Reads, "%s: jobwait's reads", name)
	assert.Positive(t, r.PerJob, name)
	assert.Positive(t, r.NetPerJob, name)
	assert.Positive(t, r.ReadsPerJob, name)

	j := m.Jobwait
	assert.Positive(t, j.RSSBaseline, "%s: RSS baseline", name)
	assert.GreaterOrEqual(t, j.RSSPeak, j.RSSBaseline, "%s: RSS peak", name)
	assert.Positive(t, j.GoroutinesBaseline, "%s: goroutines baseline", name)
	assert.Positive(t, j.GoroutinesPeak, "%s: goroutines peak", name)
	if m.Mode == ModePoll {
		assert.Zero(t, j.WaitersPeak, "short polls are not held")
		assert.Positive(t, j.HubReads, "short polls read through the hub's batched reads")
	} else {
		assert.Positive(t, j.WaitersPeak, "%s: jobwait_waiters", name)
		assert.Positive(t, j.HubReads, "%s: hub reads", name)
		assert.Positive(t, j.HubReadsPerJob, name)
	}

	// The ticks of jobwait's CPU time are 10 ms, more than a small run
	// may use; Redis's are microseconds, and it served every completion.
	assert.GreaterOrEqual(t, m.CPU.ServerMs, 0.0, "%s: jobwait's CPU", name)
	assert.Positive(t, m.CPU.RedisMs, "%s: Redis's CPU", name)
	assert.GreaterOrEqual(t, m.CPU.ClientMs, 0.0, "%s: the client's CPU", name)
	for _, w := range m.Warnings {
		assert.NotContains(t, w, "CPU", name)
	}

	p := m.Phases
	assert.Positive(t, p.Connect, name)
	assert.GreaterOrEqual(t, p.Hold, c.Hold.Seconds(), name)
	assert.Positive(t, p.Complete, name)
	assert.Positive(t, p.Total, name)
}

// startJobwait builds cmd/jobwait (or takes the binary named by
// $WAITLOAD_TEST_JOBWAIT), runs it on a free loopback port against redisURL
// with demo mode off, and returns its base URL once /readyz says 200.
func startJobwait(t *testing.T, redisURL string) (base string, pid int) {
	t.Helper()
	bin := os.Getenv("WAITLOAD_TEST_JOBWAIT")
	if bin == "" {
		goBin, err := exec.LookPath("go")
		require.NoError(t, err, "the go command is needed to build cmd/jobwait")
		bin = filepath.Join(t.TempDir(), "jobwait")
		out, err := exec.Command(goBin, "build", "-o", bin, "jobwait/cmd/jobwait").CombinedOutput()
		require.NoError(t, err, "go build ./cmd/jobwait: %s", out)
	}

	port, err := redistest.FreePort()
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JOBWAIT_") && !strings.HasPrefix(kv, "REDIS_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"JOBWAIT_ADDR="+addr, "REDIS_URL="+redisURL, "JOBWAIT_DEMO=false",
		"JOBWAIT_WAIT_BUDGET="+testBudget.String(), "JOBWAIT_POLL_INTERVAL=1s",
		"JOBWAIT_LOG_LEVEL=warn",
	)
	var logs syncWriter
	logs.w = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("jobwait log:\n%s", logs.String())
		}
	})

	base = "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, cmd.Process.Pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobwait on %s not ready (last: %v)\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncWriter lets a process's output and the test read one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// clocksOrdered: each completion was due no later than its write started,
// which was before it returned, so per waiter the latency from due is the
// longest and the one from the return the shortest.
func clocksOrdered(t *testing.T, m ModeReport) {
	t.Helper()
	for _, l := range []Latency{m.LatencySent, m.LatencyDue} {
		assert.Equal(t, m.Latency.Count, l.Count, m.Mode)
	}
	assert.GreaterOrEqual(t, m.LatencySent.Min, m.Latency.Min, m.Mode)
	assert.GreaterOrEqual(t, m.LatencyDue.Min, m.LatencySent.Min, m.Mode)
	assert.GreaterOrEqual(t, m.LatencyDue.Max, m.LatencySent.Max, m.Mode)
	assert.GreaterOrEqual(t, m.LatencySent.Max, m.Latency.Max, m.Mode)
}

// checkTimeline checks a -timeline file against its run's report: a line
// per delivery, each on the mode's clocks (the first completion due at 0; a
// write starts after it is due and returns after it starts; the clock from
// return gives the report's latency).
func checkTimeline(t *testing.T, path string, m ModeReport) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], "# mode job due_us"), "header: %q", lines[0])
	lines = lines[1:]
	require.Len(t, lines, m.Delivered, "a line per delivery")
	var lat []time.Duration
	minDue := int64(math.MaxInt64)
	for _, l := range lines {
		var mode string
		var job int
		var due, sent, done, received int64
		n, err := fmt.Sscanf(l, "%s %d %d %d %d %d", &mode, &job, &due, &sent, &done, &received)
		require.NoError(t, err, "line %q", l)
		require.Equal(t, 6, n)
		assert.Equal(t, string(m.Mode), mode)
		assert.True(t, job >= 0 && job < m.Jobs, "job %d of %d", job, m.Jobs)
		assert.True(t, due <= sent && sent <= done, "due %d, sent %d, returned %d", due, sent, done)
		minDue = min(minDue, due)
		lat = append(lat, time.Duration(received-done)*time.Microsecond)
	}
	assert.Zero(t, minDue, "times count from the first completion due")
	assert.InDelta(t, m.Latency.P50, summarize(lat).P50, 0.01, "the report's p50 from return, to the µs")
}
