package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store"
	"jobwait/store/redisconn"
	"jobwait/store/redistest"
)

// On a Redis Cluster, one ReadMany reads jobs, results and error messages
// whose keys hash to slots of every master: go-redis splits each pipeline
// by node.
func TestReadManyOnCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.StartCluster(t)
	cc := c.Client(t)
	st := store.Open(redisconn.Of(cc))

	// Ids until every master holds a job record and a result.
	var ids []string
	jobsOn := map[*redistest.Server]bool{}
	resultsOn := map[*redistest.Server]bool{}
	for i := 0; len(jobsOn) < 3 || len(resultsOn) < 3; i++ {
		require.Less(t, i, 200, "keys do not spread over the masters")
		id := fmt.Sprintf("cl-%d", i)
		ids = append(ids, id)
		jobsOn[c.MasterOf(t, store.JobKey(id))] = true
		resultsOn[c.MasterOf(t, store.ResultKey("draft-"+id))] = true
	}
	want := make([]store.Status, len(ids))
	for i, id := range ids {
		j, err := st.Create(ctx, id, "draft-"+id)
		require.NoError(t, err)
		switch i % 3 {
		case 0:
			_, err = st.Complete(ctx, j, store.SampleResult(j.EventDraftID))
			want[i] = store.Completed
		case 1:
			_, err = st.Fail(ctx, j, "boom "+id)
			want[i] = store.Failed
		default:
			_, err = st.Start(ctx, j)
			want[i] = store.Processing
		}
		require.NoError(t, err)
	}
	hashID := "cl-hash"
	require.NoError(t, cc.HSet(ctx, store.JobKey(hashID), "status", "PENDING", "eventDraftId", "d").Err())

	snaps, err := st.ReadMany(ctx, append(append([]string{"cl-missing"}, ids...), hashID))
	require.NoError(t, err)
	require.Len(t, snaps, len(ids)+2)
	assert.ErrorIs(t, snaps[0].Err, store.ErrNotFound)
	for i, id := range ids {
		sn := snaps[i+1]
		require.NoError(t, sn.Err, id)
		assert.Equal(t, want[i], sn.Job.Status, id)
		switch want[i] {
		case store.Completed:
			require.NotNil(t, sn.Result, id)
			assert.Len(t, sn.Result.Recommendations, 3, id)
		case store.Failed:
			assert.Equal(t, "boom "+id, sn.Error, id)
		}
	}
	assert.Equal(t, store.Pending, snaps[len(snaps)-1].Job.Status)

	// Knowing the drafts, the results and error messages are read with the
	// records, across every master, and the snapshots are the same.
	all := append(append([]string{"cl-missing"}, ids...), hashID)
	drafts := make([]string, len(all))
	for i, id := range all {
		drafts[i] = "draft-" + id
	}
	drafts[len(drafts)-1] = "d"
	got, err := st.ReadManyWith(ctx, all, store.Hints{Drafts: drafts})
	require.NoError(t, err)
	assert.Equal(t, snaps, got)
}
