package report

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/waiter"
)

// TestHTMLAnchors pins the ids a link into a report relies on, and that
// each is there once.
func TestHTMLAnchors(t *testing.T) {
	v, no := 310.0, (*float64)(nil)
	rep := &Report{
		Settings: Settings{Waiters: 10, Jobs: 2, JobSource: JobsWritten, LatencyFrom: FromCompletion},
		Modes: []ModeReport{
			{Mode: waiter.ModeSSE, Waiters: 10, Delivered: 10, Latency: Latency{Count: 10, P99: 310}, LatencyCurve: []float64{1, 2, 310}},
			{Mode: waiter.ModePoll, Waiters: 10, Errors: 10, ErrorKinds: map[string]int{"http 503 SVC_001": 10}},
		},
		Verdict: &Verdict{Failures: []string{"sse.p99<250ms failed on sse: p99 310.0 ms"}, Thresholds: []Check{
			{Threshold: "sse.p99<250ms", Mode: waiter.ModeSSE, Metric: "p99", Op: "<", Limit: 250, Unit: "ms", Value: &v},
			{Threshold: "errors<0.5%", Mode: waiter.ModePoll, Metric: "errors", Op: "<", Limit: 0.5, Unit: "%", Value: no},
		}},
	}
	path := filepath.Join(t.TempDir(), "r.html")
	require.NoError(t, rep.WriteHTML(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	html := string(data)
	for _, id := range []string{"verdict", "thresholds", "threshold-sse-p99-lt-250ms", "threshold-poll-errors-lt-0.5pct",
		"figures", "mode-sse", "mode-poll"} {
		assert.Equal(t, 1, len(regexp.MustCompile(`id="`+regexp.QuoteMeta(id)+`"`).FindAllString(html, -1)), "id %q once", id)
	}
	assert.Contains(t, html, "Verdict: FAILED")
	assert.Contains(t, html, "sse.p99&lt;250ms failed on sse: p99 310.0 ms")
	assert.Contains(t, html, "no delivery to measure")
	assert.NotContains(t, html, "<script", "self-contained, no script")
}
