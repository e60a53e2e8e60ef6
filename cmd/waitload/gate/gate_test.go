package gate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		mode     waiter.Mode
	}{
		{"sse.p99<250ms", "sse.p99<250ms", waiter.ModeSSE},
		{" errors < 1% ", "errors<1%", ""},
		{"delivered>=99.5%", "delivered>=99.5%", ""},
		{"longpoll.max<=1.5s", "longpoll.max<=1.5s", waiter.ModeLongPoll},
		{"ssemany.timeouts>0%", "ssemany.timeouts>0%", waiter.ModeSSEMany},
		{"poll.p50 < 800us", "poll.p50<800us", waiter.ModePoll},
		{"answered>=100%", "answered>=100%", ""},
	} {
		th, err := Parse(tt.in)
		require.NoError(t, err, "Parse(%q)", tt.in)
		assert.Equal(t, tt.want, th.String(), "Parse(%q).String()", tt.in)
		assert.Equal(t, tt.mode, th.Mode(), "Parse(%q).Mode()", tt.in)
	}
	for _, tt := range []struct{ in, want string }{
		{"sse.p99 250ms", "want [MODE.]METRIC OP VALUE"},
		{"sse.p99=250ms", "want [MODE.]METRIC OP VALUE"},
		{"ws.p99<250ms", `no mode "ws"`},
		{"sse.p95<250ms", `no metric "p95"; want one of delivered, answered, failed, errors, timeouts, p50, p90, p99, max`},
		{"errors<1", "errors is a share of the mode's waiters: want a percentage from 0% to 100%, e.g. errors<1%"},
		{"delivered>=101%", "want a percentage from 0% to 100%"},
		{"sse.p99<250", "p99 is a latency: want a duration with its unit, e.g. p99<250ms"},
		{"sse.p99<1%", "p99 is a latency"},
		{"p99<<1s", "p99 is a latency"},
		{"", "want [MODE.]METRIC OP VALUE"},
	} {
		_, err := Parse(tt.in)
		assert.ErrorContains(t, err, tt.want, "Parse(%q)", tt.in)
	}
}

func TestJudge(t *testing.T) {
	mode := func(m waiter.Mode, delivered, errors, timeouts int, p99 float64) report.ModeReport {
		r := report.ModeReport{Mode: m, Waiters: 100, Delivered: delivered, Errors: errors, Timeouts: timeouts,
			ErrorKinds: map[string]int{}}
		if errors > 0 {
			r.ErrorKinds["http 503 SVC_001 until the budget ran out"] = errors
		}
		if delivered > 0 {
			r.Latency = report.Latency{Count: delivered, P99: p99}
		}
		return r
	}
	ths := func(s ...string) []Threshold {
		var out []Threshold
		for _, in := range s {
			th, err := Parse(in)
			require.NoError(t, err)
			out = append(out, th)
		}
		return out
	}
	written := func(modes ...report.ModeReport) *report.Report {
		return &report.Report{Settings: report.Settings{JobSource: report.JobsWritten}, Modes: modes}
	}

	v := Judge(written(mode(waiter.ModePoll, 100, 0, 0, 900), mode(waiter.ModeSSE, 100, 0, 0, 12)),
		ths("sse.p99<250ms", "errors<1%", "delivered>=99%"))
	assert.True(t, v.Passed, "%v", v.Failures)
	require.Len(t, v.Thresholds, 5, "sse.p99 on sse; the other two on each mode")
	assert.Equal(t, report.Check{Threshold: "sse.p99<250ms", Mode: waiter.ModeSSE, Metric: "p99", Op: "<", Limit: 250, Unit: "ms",
		Value: ptr(12.0), Passed: true}, v.Thresholds[0])

	v = Judge(written(mode(waiter.ModeSSE, 97, 3, 0, 310)), ths("sse.p99<250ms", "errors<1%", "delivered>=97%"))
	assert.False(t, v.Passed)
	assert.Equal(t, []string{"sse.p99<250ms failed on sse: p99 310.0 ms", "errors<1% failed on sse: errors 3.0 %"}, v.Failures)
	assert.Equal(t, []bool{false, false, true}, []bool{v.Thresholds[0].Passed, v.Thresholds[1].Passed, v.Thresholds[2].Passed})

	v = Judge(written(mode(waiter.ModeSSE, 0, 100, 0, 0)), ths("sse.p99<250ms"))
	assert.False(t, v.Passed)
	assert.Nil(t, v.Thresholds[0].Value, "no delivery: nothing measured")
	assert.Equal(t, []string{
		"sse: 100 of 100 waits did not get their result (100 × http 503 SVC_001 until the budget ran out): most waits failed, so the run measured no server",
		"sse.p99<250ms failed on sse: no delivery to measure",
	}, v.Failures)

	// Without thresholds, most waits failing fails the run; half does not.
	assert.False(t, Judge(written(mode(waiter.ModePoll, 49, 0, 51, 5)), nil).Passed, "51 timed out of 100")
	assert.True(t, Judge(written(mode(waiter.ModePoll, 50, 0, 50, 5)), nil).Passed, "half")

	// Jobs waitload does not complete: a timeout is an answer, an error is not.
	listed := &report.Report{Settings: report.Settings{JobSource: report.JobsListed}}
	listed.Modes = []report.ModeReport{mode(waiter.ModeLongPoll, 10, 0, 90, 5)}
	assert.True(t, Judge(listed, nil).Passed, "jobs not done within the budget")
	listed.Modes = []report.ModeReport{mode(waiter.ModeLongPoll, 10, 60, 30, 5)}
	v = Judge(listed, nil)
	assert.Equal(t, []string{"longpoll: 60 of 100 waits ended in an error (60 × http 503 SVC_001 until the budget ran out): most waits failed, so the run measured no server"}, v.Failures)
}

func ptr(v float64) *float64 { return &v }
