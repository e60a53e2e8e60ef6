package producer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreator(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		draft := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/events/"), "/ai-recommendations")
		switch {
		case r.Method != http.MethodPost:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case draft == "traversal":
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"jobId":"../../admin"}`))
		case draft == "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"SVC_002"}`))
		default:
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"jobId":"job-` + draft + `","status":"PENDING"}`))
		}
	}))
	defer srv.Close()
	c := NewCreator(srv.URL+"/api/events/{draft}/ai-recommendations", srv.Client())

	ids, err := c.Create(context.Background(), []string{"d1", "d2", "d3"})
	require.NoError(t, err)
	assert.Equal(t, []string{"job-d1", "job-d2", "job-d3"}, ids, "in the drafts' order")

	_, err = c.Create(context.Background(), []string{"d1", "traversal"})
	assert.ErrorContains(t, err, `http 202 {"jobId":"../../admin"}: want 2xx with {"jobId"}`, "an id that could name another path")
	_, err = c.Create(context.Background(), []string{"down"})
	assert.ErrorContains(t, err, "/api/events/down/ai-recommendations: http 503")
}
