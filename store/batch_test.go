package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store"
	"jobwait/store/redistest"
)

// counts tallies command names.
func counts(cmds []string) map[string]int {
	m := map[string]int{}
	for _, c := range cmds {
		m[c]++
	}
	return m
}

// TestBatchedReadCommands: a read of many jobs costs commands per batch of
// 512 records, not per job, on a single node: the records in MGETs; a
// record that is not a string (or that the MGET found missing) costs an
// HGETALL; the final jobs' results and messages one MGET more.
func TestBatchedReadCommands(t *testing.T) {
	ctx := context.Background()
	c := redistest.Shared(t).Client(t)
	trips := redistest.CountTrips(c)
	st := store.New(c)
	const n = 1100
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID(t)
		require.NoError(t, c.Set(ctx, "job:"+ids[i], `{"status":"PROCESSING"}`, time.Hour).Err())
	}
	read := func(h store.Hints, ids ...string) ([]store.Snapshot, int, map[string]int) {
		t.Helper()
		trips.Reset()
		snaps, err := st.ReadManyWith(ctx, ids, h)
		require.NoError(t, err)
		got, cmds := trips.Count()
		return snaps, got, counts(cmds)
	}

	_, _, _ = read(store.Hints{}, ids[0]) // the connection's handshake
	snaps, rt, cmds := read(store.Hints{}, ids...)
	assert.Equal(t, 1, rt)
	assert.Equal(t, map[string]int{"mget": 3}, cmds, "1,100 records: three MGETs")
	for _, sn := range snaps {
		require.NoError(t, sn.Err)
		assert.Equal(t, store.Processing, sn.Job.Status)
	}

	// A hash, a missing job, a list, and two final jobs.
	hash, gone, list, done, failed := newID(t), newID(t), newID(t), newID(t), newID(t)
	require.NoError(t, c.HSet(ctx, "job:"+hash, "status", "PENDING").Err())
	require.NoError(t, c.RPush(ctx, "job:"+list, "x").Err())
	require.NoError(t, c.Set(ctx, "ai:recommendation:D"+done, resultJSON, 0).Err())
	require.NoError(t, c.Set(ctx, "job:"+done, `{"status":"COMPLETED","eventDraftId":"D`+done+`"}`, 0).Err())
	require.NoError(t, c.Set(ctx, "job:"+failed+":error", "boom", 0).Err())
	require.NoError(t, c.Set(ctx, "job:"+failed, `{"status":"FAILED"}`, 0).Err())
	mixed := append(slices.Clone(ids[:10]), hash, gone, list, done, failed)
	snaps, rt, cmds = read(store.Hints{}, mixed...)
	assert.Equal(t, 4, rt, "the records; the three that are not strings as hashes; the list as a string again; the outcomes")
	assert.Equal(t, map[string]int{"mget": 2, "hgetall": 3, "get": 1}, cmds)
	last := snaps[10:]
	assert.Equal(t, store.Pending, last[0].Job.Status)
	assert.ErrorIs(t, last[1].Err, store.ErrNotFound)
	assert.ErrorIs(t, last[2].Err, store.ErrCorrupt)
	require.NotNil(t, last[3].Result)
	assert.Equal(t, "boom", last[4].Error)
}

// TestReadsWithoutMGET: an ACL user without MGET (a line from before
// jobwait used it) reads the same jobs, with a GET each; the refusal is
// learnt once.
func TestReadsWithoutMGET(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "old", "on", ">secret", "resetkeys", "-@all",
		"%R~job:*", "%R~ai:recommendation:*", "+get", "+hgetall", "+ping").Err())
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "old", Password: "secret"})
	t.Cleanup(func() { c.Close() })
	trips := redistest.CountTrips(c)
	full, st := store.New(admin), store.New(c)

	var ids, drafts []string
	for i := range 6 {
		id := newID(t)
		ids, drafts = append(ids, id), append(drafts, "D"+id)
		switch i % 3 {
		case 0:
			require.NoError(t, admin.Set(ctx, "job:"+id, `{"status":"PROCESSING","eventDraftId":"D`+id+`"}`, time.Hour).Err())
		case 1:
			require.NoError(t, admin.Set(ctx, "ai:recommendation:D"+id, resultJSON, 0).Err())
			require.NoError(t, admin.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"D`+id+`"}`, 0).Err())
		default:
			require.NoError(t, admin.Set(ctx, "job:"+id+":error", "boom", 0).Err())
			require.NoError(t, admin.Set(ctx, "job:"+id, `{"status":"FAILED","eventDraftId":"D`+id+`"}`, 0).Err())
		}
	}
	want, err := full.ReadMany(ctx, ids)
	require.NoError(t, err)
	for range 2 {
		trips.Reset()
		got, err := st.ReadManyWith(ctx, ids, store.Hints{Drafts: drafts})
		require.NoError(t, err)
		assert.Equal(t, want, got, "the same snapshots")
	}
	_, cmds := trips.Count()
	assert.NotContains(t, cmds, "mget", "the refusal is learnt: GETs from then on")
}
