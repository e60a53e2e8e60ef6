package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestEmbeddedDefault runs the real binary with no REDIS_URL, as README's
// run command does: it creates a demo job over HTTP and polls it to its end.
func TestEmbeddedDefault(t *testing.T) {
	p := servertest.Start(t, "REDIS_URL=", "JOBWAIT_DEMO_DELAY=1s", "JOBWAIT_DEMO_FAIL_RATE=0")
	p.WaitReady(t, 5*time.Second)
	assert.Contains(t, p.Log(), "embedded")

	resp, err := http.Post(p.URL()+"/api/events/draft-42/ai-recommendations", "application/json", nil)
	require.NoError(t, err)
	var created struct{ JobID, Status string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, "PENDING", created.Status)
	assert.Equal(t, "/api/events/jobs/"+created.JobID+"/status", resp.Header.Get("Location"))

	var last struct {
		Status          string
		Recommendations []map[string]string
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for last.Status != "COMPLETED" && time.Now().Before(deadline) {
		resp, err := http.Get(p.URL() + "/api/events/jobs/" + created.JobID + "/status")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.NoError(t, json.Unmarshal(body, &last))
		seen[last.Status] = true
		if last.Status != "COMPLETED" {
			time.Sleep(100 * time.Millisecond) // the legacy client's poll, shortened
		}
	}
	require.Equal(t, "COMPLETED", last.Status)
	assert.Len(t, last.Recommendations, 3)
	assert.True(t, seen["PROCESSING"] || seen["PENDING"], "the job was seen in progress first")

	resp, err = http.Get(p.URL() + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(page), `<script type="module" src="/app.js">`)
}
