package nchan

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/store/redistest"
)

// TestCompletedBodyIsJobwaitsAnswer pins that completedBody is byte for
// byte what the real jobwait answers for a completed job: the peer of the
// side-by-side bench is sent it as the same payload.
func TestCompletedBodyIsJobwaitsAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobwait and redis-server")
	}
	ctx := context.Background()
	rs := redistest.Start(t)
	p := servertest.Start(t, "REDIS_URL="+rs.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_LOG_LEVEL=warn")
	p.WaitReady(t, 20*time.Second)
	st := store.New(rs.Client(t))
	j, err := st.Create(ctx, "completed-1", "draft-completed-1")
	require.NoError(t, err)
	r := store.SampleResult(j.EventDraftID)
	j, err = st.Complete(ctx, j, r)
	require.NoError(t, err)

	resp, err := http.Get(p.URL() + "/api/events/jobs/" + j.JobID + "/status")
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", answer)
	body, err := completedBody(j, r)
	require.NoError(t, err)
	assert.Equal(t, string(answer), string(body))
	assert.NotContains(t, string(body), "\n", "one data: line in an event stream")
}

func TestParseStatus(t *testing.T) {
	m := parseStatus("total published messages: 20\nshared memory used: 60K\nsubscribers: 7\n" +
		"redis connected servers: 1\nnchan version: 1.3.6\n")
	assert.Equal(t, 7.0, m["subscribers"])
	assert.Equal(t, 1.0, m["redis connected servers"])
	assert.Equal(t, 60.0, m["shared memory used"])
	assert.Equal(t, 20.0, m["total published messages"])
}
