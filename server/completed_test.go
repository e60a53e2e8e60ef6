package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/jobwait/jobwaittest"
	"jobwait/server"
	"jobwait/store"
	"jobwait/store/redistest"
)

// TestCompletedBodyIsTheAnswer pins that CompletedBody is byte for byte what
// jobwait answers for a completed job: the load tester publishes it to the
// peer of the side-by-side bench as the same payload.
func TestCompletedBodyIsTheAnswer(t *testing.T) {
	ctx := context.Background()
	c := redistest.Shared(t).Client(t)
	s := shortPollApp(t, c)
	st := store.New(c)

	id := jobwaittest.ID("completed")
	j, err := st.Create(ctx, id, "draft-"+id)
	require.NoError(t, err)
	r := store.SampleResult(j.EventDraftID)
	j, err = st.Complete(ctx, j, r)
	require.NoError(t, err)

	resp, body := do(t, s, http.MethodGet, "/api/events/jobs/"+id+"/status")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, body, string(server.CompletedBody(j, r)))
}
