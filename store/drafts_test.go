package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store"
	"jobwait/store/redistest"
)

// TestReadWithDraftsRoundTrips: knowing a job's draft, a read of its
// completion or failure is one round trip; a changed or unknown draft, a
// hash record or a missing outcome costs a second one, and the answer is
// the same as without drafts.
func TestReadWithDraftsRoundTrips(t *testing.T) {
	ctx := context.Background()
	c := redistest.Shared(t).Client(t)
	trips := redistest.CountTrips(c)
	st := store.New(c)
	tests := []struct {
		name      string
		write     func(id string) // the job's draft is "D"+id
		draft     string          // the draft the reader knows; "" none
		wantTrips int
		status    store.Status
		errIs     error
		failure   string
	}{
		{"completed, draft known", func(id string) {
			c.Set(ctx, "ai:recommendation:D"+id, resultJSON, 0)
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"D`+id+`"}`, 0)
		}, "D", 1, store.Completed, nil, ""},
		{"completed, draft unknown", func(id string) {
			c.Set(ctx, "ai:recommendation:D"+id, resultJSON, 0)
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"D`+id+`"}`, 0)
		}, "", 2, store.Completed, nil, ""},
		{"completed, draft changed", func(id string) {
			c.Set(ctx, "ai:recommendation:D"+id, resultJSON, 0)
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"D`+id+`"}`, 0)
		}, "other", 2, store.Completed, nil, ""},
		{"completed hash, draft known", func(id string) {
			c.Set(ctx, "ai:recommendation:D"+id, resultJSON, 0)
			c.HSet(ctx, "job:"+id, "status", "COMPLETED", "eventDraftId", "D"+id)
		}, "D", 2, store.Completed, nil, ""},
		{"completed without result, draft known", func(id string) {
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"D`+id+`"}`, 0)
		}, "D", 2, store.Completed, store.ErrNoResult, ""},
		{"failed, draft known", func(id string) {
			c.Set(ctx, "job:"+id+":error", "boom", 0)
			c.Set(ctx, "job:"+id, `{"status":"FAILED","eventDraftId":"D`+id+`"}`, 0)
		}, "D", 1, store.Failed, nil, "boom"},
		{"failed without message, draft known", func(id string) {
			c.Set(ctx, "job:"+id, `{"status":"FAILED","eventDraftId":"D`+id+`"}`, 0)
		}, "D", 2, store.Failed, nil, store.DefaultFailure},
		{"processing, draft known", func(id string) {
			c.Set(ctx, "job:"+id, `{"status":"PROCESSING","eventDraftId":"D`+id+`"}`, 0)
		}, "D", 1, store.Processing, nil, ""},
		{"gone, draft known", func(id string) {}, "D", 1, "", store.ErrNotFound, ""},
	}
	for _, tt := range tests {
		id := newID(t)
		tt.write(id)
		draft := tt.draft
		if draft == "D" {
			draft += id
		}
		want, err := st.ReadMany(ctx, []string{id})
		require.NoError(t, err)

		trips.Reset()
		got, err := st.ReadManyWith(ctx, []string{id}, store.Hints{Drafts: []string{draft}})
		require.NoError(t, err, tt.name)
		n, cmds := trips.Count()
		assert.Equal(t, tt.wantTrips, n, "%s: round trips (%v)", tt.name, cmds)
		sn := got[0]
		assert.Equal(t, want[0], sn, "%s: the same snapshot as without drafts", tt.name)
		if tt.errIs != nil {
			assert.ErrorIs(t, sn.Err, tt.errIs, tt.name)
			continue
		}
		require.NoError(t, sn.Err, tt.name)
		assert.Equal(t, tt.status, sn.Job.Status, tt.name)
		assert.Equal(t, tt.failure, sn.Error, tt.name)
		if tt.status == store.Completed {
			assert.NotNil(t, sn.Result, tt.name)
		}
	}
}
