package waiter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hold runs count waiters of mode against srv and returns their outcomes,
// bounded well past their budget.
func hold(t *testing.T, srv *httptest.Server, mode Mode, count int) []Outcome {
	t.Helper()
	h, err := NewHolder(Spec{
		Mode: mode, Target: srv.URL, Jobs: []string{"j1", "j2"}, Count: count,
		Budget: 600 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		DialConcurrency: 4, JobsPerConn: 2,
	})
	require.NoError(t, err)
	h.Start(context.Background())
	done := make(chan []Outcome, 1)
	go func() {
		out, _ := h.Wait()
		done <- out
	}()
	select {
	case out := <-done:
		return out
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waiters still waiting 10 s past their budget", mode)
		return nil
	}
}

// TestRefusedUntilTheEnd: a server (or a proxy) that answers 503 to every
// request leaves every waiter without an answer: an error that says so,
// never a timeout, which would read as a server that held the wait.
func TestRefusedUntilTheEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"code":"SVC_001","message":"busy"}`))
	}))
	defer srv.Close()
	for _, mode := range []Mode{ModePoll, ModeLongPoll, ModeSSE, ModeSSEMany} {
		for _, o := range hold(t, srv, mode, 4) {
			assert.Equal(t, Errored, o.Kind, "%s: %+v", mode, o)
			assert.Contains(t, o.Err, "http 503 SVC_001", "%s", mode)
			if mode == ModePoll || mode == ModeLongPoll {
				assert.Contains(t, o.Err, "until the budget ran out", "%s", mode)
				assert.Positive(t, o.Rejected, "%s: 503s asked through", mode)
			}
		}
	}
}

// TestFailedIsAnAnswer: a job that ends FAILED has its final answer: it is
// counted as such, not as a trouble of the wait.
func TestFailedIsAnAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := `{"jobId":"j1","status":"FAILED","error":"AI 분석 실패","message":"다시 시도해주세요"}`
		if r.URL.Path == "/api/events/jobs/j1/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("id: 1\nevent: failed\ndata: " + body + "\n\n"))
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	for _, mode := range []Mode{ModePoll, ModeLongPoll, ModeSSE} {
		h, err := NewHolder(Spec{Mode: mode, Target: srv.URL, Jobs: []string{"j1"}, Count: 2,
			Budget: time.Second, PollInterval: 100 * time.Millisecond, DialConcurrency: 2})
		require.NoError(t, err)
		h.Start(context.Background())
		out, _ := h.Wait()
		for _, o := range out {
			assert.Equal(t, Failed, o.Kind, "%s: %+v", mode, o)
			assert.Empty(t, o.Err, "%s", mode)
		}
		assert.Equal(t, 2, h.Counts().Failed, "%s", mode)
	}
}
