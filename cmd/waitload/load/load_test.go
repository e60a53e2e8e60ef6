package load

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/proc"
	"jobwait/cmd/waitload/producer"
	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
	"jobwait/server/servertest"
	"jobwait/store/redistest"
)

// TestMain also serves as the holder process of -procs: the test binary is
// what os.Executable names when a test runs with Procs > 1.
func TestMain(m *testing.M) {
	if proc.IsChild() {
		os.Exit(proc.Serve(os.Stdin, os.Stdout))
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
	if testing.Short() {
		t.Skip("runs jobwait and redis-server")
	}
	rs := redistest.Start(t)
	base := startJobwait(t, rs.URL())

	cfg := func(modes ...waiter.Mode) Config {
		return Config{
			Target: base, RedisURL: rs.URL(), Modes: modes,
			Waiters: 300, Jobs: 30, Rate: 300,
			Budget: testBudget, PollInterval: 2 * time.Second, // jobwait's Retry-After (1 s) wins
			Hold: time.Second, Settle: 2 * time.Second, Timeout: 90 * time.Second,
			Sources: 4, Procs: 1, DialConcurrency: 64,
			// The test's own process stands in for the server's: what
			// is checked is that -cpu-pids is read over the run.
			CPUPids: []int{os.Getpid()},
		}
	}

	t.Run("every mode", func(t *testing.T) {
		c := cfg(waiter.AllModes...)
		var progress servertest.Buffer
		c.Progress = &progress
		rep, err := Run(context.Background(), c)
		require.NoError(t, err)
		require.Len(t, rep.Modes, len(waiter.AllModes))
		assert.NotEmpty(t, rep.Notify, "jobwait's notify mode from /api/info")
		assert.Equal(t, &report.ServerSettings{WaitBudgetSeconds: testBudget.Seconds(), PollIntervalSeconds: 1}, rep.ServerSettings)
		require.Len(t, rep.Warnings, 1, "the budget matches; the poll interval does not")
		assert.Contains(t, rep.Warnings[0], "-poll-interval 2s, but the server's poll interval is 1s")
		for i, m := range rep.Modes {
			assert.Equal(t, waiter.AllModes[i], m.Mode)
			checkMode(t, m, c)
		}
		assert.Regexp(t, `waitload poll .* delivered \d+  failed \d+  timeouts \d+  errors \d+  \| server rss`, progress.String(), "progress lines")

		dir := t.TempDir()
		var table bytes.Buffer
		require.NoError(t, rep.WriteTable(&table))
		for _, row := range rep.Rows() {
			assert.Contains(t, table.String(), row.Name)
		}
		require.NoError(t, rep.WriteJSON(filepath.Join(dir, "r.json")))
		back, err := report.ReadJSON(filepath.Join(dir, "r.json"))
		require.NoError(t, err)
		assert.Equal(t, rep.Modes[2].Latency, back.Modes[2].Latency)
		assert.Equal(t, rep.Modes[1].Redis, back.Modes[1].Redis)

		require.NoError(t, rep.WriteHTML(filepath.Join(dir, "r.html")))
		html, err := os.ReadFile(filepath.Join(dir, "r.html"))
		require.NoError(t, err)
		assert.Equal(t, 3, strings.Count(string(html), "<svg "), "one chart per mode")
		assert.Equal(t, 3, strings.Count(string(html), "<polyline "), "one curve per mode")
		assert.NotContains(t, string(html), "<script", "self-contained, no script")
		assert.NotContains(t, string(html), "https://", "no external assets")
	})

	t.Run("holder processes", func(t *testing.T) {
		// The waiters held by two processes (this test binary,
		// re-executed) and the report here.
		c := cfg(waiter.ModeSSE)
		c.Waiters, c.Jobs, c.Rate, c.Procs, c.Sources, c.Timeout = 200, 20, 500, 2, 2, 60*time.Second
		rep, err := Run(context.Background(), c)
		require.NoError(t, err)
		require.Len(t, rep.Modes, 1)
		checkMode(t, rep.Modes[0], c)
		assert.Equal(t, 2, rep.Procs)
		timeline := filepath.Join(t.TempDir(), "r.timeline")
		require.NoError(t, rep.WriteTimeline(timeline))
		checkTimeline(t, timeline, rep.Modes[0])
	})

	t.Run("many-job stream", func(t *testing.T) {
		c := cfg(waiter.ModeSSEMany)
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
}

// TestWithWaitTokens: against a jobwait that requires wait tokens, every
// mode's waiters (many-job streams too) get their results with the tokens
// -token-secret mints, and none without.
func TestWithWaitTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobwait and redis-server")
	}
	const secret = "a-test-secret-of-at-least-32-bytes-for-hs256"
	rs := redistest.Start(t)
	base := startJobwait(t, rs.URL(), "JOBWAIT_AUTH=required", "JOBWAIT_AUTH_SECRET="+secret)
	c := Config{
		Target: base, RedisURL: rs.URL(), Modes: append(slices.Clone(waiter.AllModes), waiter.ModeSSEMany),
		Waiters: 100, Jobs: 20, Rate: 200, JobsPerConn: 5,
		Budget: testBudget, PollInterval: 2 * time.Second, Hold: 500 * time.Millisecond, Settle: 2 * time.Second,
		Timeout: 90 * time.Second, Sources: 2, Procs: 1, DialConcurrency: 64,
		TokenSecret: []byte(secret),
	}
	rep, err := Run(context.Background(), c)
	require.NoError(t, err)
	assert.True(t, rep.Tokens)
	for _, m := range rep.Modes {
		assert.Equal(t, c.Waiters, m.Delivered, "%s: delivered (errors %v)", m.Mode, m.ErrorKinds)
	}

	c.Modes, c.TokenSecret = []waiter.Mode{waiter.ModeLongPoll}, nil
	rep, err = Run(context.Background(), c)
	require.NoError(t, err)
	assert.Zero(t, rep.Modes[0].Delivered, "without tokens")
	assert.Equal(t, c.Waiters, rep.Modes[0].Errors, "every wait refused: %v", rep.Modes[0].ErrorKinds)
}

// checkMode asserts a mode delivered to every waiter and filled every figure.
func checkMode(t *testing.T, m report.ModeReport, c Config) {
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
	assert.Equal(t, int64(producer.StoreCommands*c.Jobs), r.Producer, "%s: producer commands", name)
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
	if m.Mode == waiter.ModePoll {
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

// startJobwait runs the real jobwait against redisURL with demo mode off
// and testBudget, and returns its base URL once /readyz says 200.
func startJobwait(t *testing.T, redisURL string, env ...string) string {
	t.Helper()
	p := servertest.Start(t, append([]string{"REDIS_URL=" + redisURL, "JOBWAIT_DEMO=false",
		"JOBWAIT_WAIT_BUDGET=" + testBudget.String(), "JOBWAIT_POLL_INTERVAL=1s", "JOBWAIT_LOG_LEVEL=warn"}, env...)...)
	p.WaitReady(t, 20*time.Second)
	return p.URL()
}

// clocksOrdered: each completion was due no later than its write started,
// which was before it returned, so per waiter the latency from due is the
// longest and the one from the return the shortest.
func clocksOrdered(t *testing.T, m report.ModeReport) {
	t.Helper()
	for _, l := range []report.Latency{m.LatencySent, m.LatencyDue} {
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
func checkTimeline(t *testing.T, path string, m report.ModeReport) {
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
	assert.InDelta(t, m.Latency.P50, report.Summarize(lat).P50, 0.01, "the report's p50 from return, to the µs")
}

func TestRedisFigures(t *testing.T) {
	r := redisFigures(probe.CmdStats{"get": 5}, probe.CmdStats{"set": 20, "get": 30, "mget": 10}, 10, producer.StoreCommands)
	assert.Equal(t, int64(5), r.HoldCommands)
	assert.Equal(t, int64(60), r.Commands)
	assert.Equal(t, int64(20), r.Producer)
	assert.Equal(t, int64(40), r.Net)
	assert.Equal(t, int64(40), r.Reads)
	assert.Equal(t, 6.0, r.PerJob)
	assert.Equal(t, 4.0, r.NetPerJob)
	assert.Equal(t, 4.0, r.ReadsPerJob)
}
