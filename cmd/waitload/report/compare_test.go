package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/waiter"
)

func TestCompare(t *testing.T) {
	run := func(server string, mode waiter.Mode, rate, p50, p99, kib float64) *Report {
		return &Report{
			Settings: Settings{Server: server, Waiters: 100, Jobs: 10, Rate: rate},
			Modes: []ModeReport{{
				Mode: mode, Waiters: 100, Jobs: 10, Delivered: 100,
				Latency: Latency{P50: p50, P99: p99}, LatencySent: Latency{P50: p50 + 1, P99: 2 * p99},
				LatencyDue:     Latency{P50: p50 + 2, P99: 3 * p99},
				CompletionRate: rate,
				Jobwait:        Jobwait{BytesPerWaiter: kib * 1024},
				CPU:            CPU{ServerMs: 10 * p99, RedisMs: 100, ClientMs: 50 * p50},
				Phases:         Phases{Complete: 0.4, Drain: 0.1},
			}},
		}
	}
	reps := []*Report{
		run("", waiter.ModeSSE, 1000, 2, 20, 11), // an old report: no server is jobwait
		run(waiter.ServerNchan, waiter.ModeSSE, 1000, 1, 4, 10),
		run(waiter.ServerNchan, waiter.ModeSSE, 1000, 1, 6, 10),
		run(waiter.ServerJobwait, waiter.ModeSSE, 1000, 3, 30, 11),
		run(waiter.ServerJobwait, waiter.ModeLongPoll, 1000, 4, 8, 9),
		run(waiter.ServerNchan, waiter.ModeLongPoll, 1000, -0.1, 16, 10),
		run(waiter.ServerJobwait, waiter.ModeSSE, 3000, 2, 31, 11),
	}

	var stdout bytes.Buffer
	require.NoError(t, Compare(&stdout, reps))
	lines := strings.Split(stdout.String(), "\n")
	require.GreaterOrEqual(t, len(lines), 5, stdout.String())
	for _, tc := range []struct{ row, want string }{
		// median(2, 3) ÷ median(1, 1); median(20, 30) ÷ median(4, 6); 11 ÷ 10
		{lines[2], "| sse, 100 waiters / 10 jobs, 1000/s | 2 + 2 | 200/200 · 200/200 | 2.0 – 3.0 | 1.0 | 2.50 | 20.0 – 30.0 | 4.0 – 6.0 | 5.00 | 11.0 | 10.0 | 1.10 |"},
		// a p50 below zero has no ratio
		{lines[3], "| longpoll, 100 waiters / 10 jobs, 1000/s | 1 + 1 | 100/100 · 100/100 | 4.0 | -0.1 | – | 8.0 | 16.0 | 0.50 | 9.0 | 10.0 | 0.90 |"},
		// no peer run: no ratio
		{lines[4], "| sse, 100 waiters / 10 jobs, 3000/s | 1 + 0 | 100/100 · – | 2.0 | – | – | 31.0 | – | – | 11.0 | – | – |"},
	} {
		assert.Equal(t, tc.want, tc.row)
	}
	// The same runs from the write's start, with the rate kept.
	due := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "p99 ms from sent ratio") })
	require.Positive(t, due, stdout.String())
	assert.Equal(t, "| sse, 100 waiters / 10 jobs, 1000/s | 2 + 2 | 200/200 · 200/200 | 3.0 – 4.0 | 2.0 | 1.75 | 40.0 – 60.0 | 8.0 – 12.0 | 5.00 | 1000.0 | 1000.0 | 1.00 |", lines[due+2])
	// And from when each completion was due.
	due = slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "p99 ms from due ratio") })
	require.Positive(t, due, stdout.String())
	assert.Equal(t, "| sse, 100 waiters / 10 jobs, 1000/s | 2 + 2 | 200/200 · 200/200 | 4.0 – 5.0 | 3.0 | 1.50 | 60.0 – 90.0 | 12.0 – 18.0 | 5.00 |", lines[due+2])

	// And what the deliveries cost.
	due = slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "both CPU ms ratio") })
	require.Positive(t, due, stdout.String())
	assert.Equal(t, "| sse, 100 waiters / 10 jobs, 1000/s | 2 + 2 | 200/200 · 200/200 | 200.0 – 300.0 | 40.0 – 60.0 | 5.00 | 100.0 | 100.0 | 1.00 | 300.0 – 400.0 | 140.0 – 160.0 | 2.33 |", lines[due+2])

	// And what the load client spent of its core: 100 ms in a 500 ms window is 20 %.
	due = slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "client busy % ratio") })
	require.Positive(t, due, stdout.String())
	assert.Equal(t, "| sse, 100 waiters / 10 jobs, 1000/s | 2 + 2 | 200/200 · 200/200 | 100.0 – 150.0 | 50.0 | 2.50 | 20.0 – 30.0 | 10.0 | 2.50 |", lines[due+2])

	assert.Error(t, Compare(&stdout, nil), "no runs")
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{1}, 1},
		{[]float64{1, 3}, 2},
		{[]float64{1, 2, 9}, 2},
		{[]float64{1, 2, 4, 9}, 3},
	} {
		assert.Equal(t, tc.want, median(tc.in), "median(%v)", tc.in)
	}
}

func TestClientBusy(t *testing.T) {
	busy := func(ms, complete, drain float64) float64 {
		return ModeReport{CPU: CPU{ClientMs: ms}, Phases: Phases{Complete: complete, Drain: drain}}.ClientBusy()
	}
	assert.InDelta(t, 50, busy(500, 0.8, 0.2), 1e-9, "500 ms of CPU in a 1 s window")
	assert.InDelta(t, 125, busy(2500, 2, 0), 1e-9, "more than one core: unpinned")
	assert.Zero(t, busy(500, 0, 0), "no window, no share")
}
