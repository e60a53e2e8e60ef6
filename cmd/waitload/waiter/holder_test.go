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

// TestStopEndsEveryWait: a server that holds every request past the
// waiters' budget and grace still lets every waiter go as soon as the
// context given to Start ends, or the Spec's Deadline passes: a blocked read
// sees neither, so the connections are made to fail.
func TestStopEndsEveryWait(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	for _, mode := range []Mode{ModePoll, ModeLongPoll, ModeSSE, ModeSSEMany} {
		for _, byDeadline := range []bool{false, true} {
			spec := Spec{Mode: mode, Target: srv.URL, Jobs: []string{"j1", "j2"}, Count: 4,
				Budget: time.Minute, PollInterval: time.Millisecond, DialConcurrency: 4, JobsPerConn: 2}
			ctx, cancel := context.WithCancel(context.Background())
			if byDeadline {
				spec.Deadline = time.Now().Add(time.Second)
			}
			h, err := NewHolder(spec)
			require.NoError(t, err)
			h.Start(ctx)
			held := func() bool { return h.Counts().Held == 4 }
			require.Eventually(t, held, 5*time.Second, 5*time.Millisecond, "%s: held", mode)
			if !byDeadline {
				cancel()
			}
			ended := func() bool { return h.Counts().Done == 4 }
			require.Eventually(t, ended, 5*time.Second, 5*time.Millisecond, "%s (deadline %v): held after the stop", mode, byDeadline)
			out, _ := h.Wait()
			for _, o := range out {
				assert.Equal(t, Errored, o.Kind, "%s (deadline %v): %+v", mode, byDeadline, o)
			}
			cancel()
		}
	}
}
