package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
)

func TestCheckSettings(t *testing.T) {
	check := func(t *testing.T, target string, budget, poll time.Duration) (*report.Report, error) {
		t.Helper()
		tg, err := waiter.ParseTarget(target, "")
		require.NoError(t, err)
		r := &run{cfg: Config{Target: target, Budget: budget, PollInterval: poll}}
		rep := &report.Report{}
		return rep, r.checkSettings(context.Background(), probe.NewJobwait(tg.URL(), httpClient(tg, time.Second, 1)), rep)
	}
	serve := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	jobwait := serve(200, `{"demo":false,"waitBudgetMs":30000,"pollIntervalMs":2000,"notify":"keyspace"}`)

	rep, err := check(t, jobwait, 30*time.Second, 2*time.Second)
	require.NoError(t, err)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, "keyspace", rep.Notify)
	assert.Equal(t, &report.ServerSettings{WaitBudgetSeconds: 30, PollIntervalSeconds: 2}, rep.ServerSettings)

	rep, err = check(t, jobwait, 40*time.Second, time.Second)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"-budget 40s, but the server's wait budget is 30s: the waiters wait on after the server has let them go",
		"-poll-interval 1s, but the server's poll interval is 2s: a short poll answered without Retry-After, and a stream that ends before sending retry:, waits 1s",
	}, rep.Warnings)

	// Answered, but not with jobwait's settings: a warning, and the run goes on.
	for _, target := range []string{serve(503, `{"code":"SVC_002"}`), serve(200, "<html>a page for every path</html>"), serve(200, `{"notify":"poll"}`)} {
		rep, err = check(t, target, 30*time.Second, 2*time.Second)
		require.NoError(t, err, target)
		require.Len(t, rep.Warnings, 1, target)
		assert.Contains(t, rep.Warnings[0], "the server's settings not read (jobwait /api/info: ", target)
		assert.Nil(t, rep.ServerSettings)
	}

	// No answer at all (nothing listens on port 1): the run does not start.
	_, err = check(t, "http://127.0.0.1:1", 30*time.Second, 2*time.Second)
	assert.ErrorContains(t, err, "-target http://127.0.0.1:1 unreachable")
}
