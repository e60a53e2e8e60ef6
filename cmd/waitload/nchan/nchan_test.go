package nchan

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/store"
)

func TestPublishesJobwaitsAnswer(t *testing.T) {
	p := NewPublisher("", nil)
	j, err := p.Create(context.Background(), "j1", "d1")
	require.NoError(t, err)
	j, err = p.Start(context.Background(), j)
	require.NoError(t, err)
	body := server.CompletedBody(j, store.SampleResult(j.EventDraftID))
	var a struct {
		JobID           string            `json:"jobId"`
		Status          string            `json:"status"`
		Recommendations []json.RawMessage `json:"recommendations"`
	}
	require.NoError(t, json.Unmarshal(body, &a))
	assert.Equal(t, "j1", a.JobID)
	assert.Equal(t, "COMPLETED", a.Status)
	assert.NotEmpty(t, a.Recommendations)
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
