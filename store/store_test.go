package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var seq atomic.Int64

// newID returns a job id unique in this package run.
func newID(t *testing.T) string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e6, seq.Add(1))
}

func setup(t *testing.T) (*store.Store, *redis.Client) {
	t.Helper()
	c := redistest.Shared(t).Client(t)
	return store.New(c), c
}

const resultJSON = `{"eventDraftId":"D","trendAnalysis":{"summary":"s","keywords":["k"]},"recommendations":[{"title":"저비용 추천안","prize":"커피쿠폰","method":"QR코드 스캔","cost":"50만원","roi":"150%"}]}`

func TestReadShapes(t *testing.T) {
	ctx := context.Background()
	st, c := setup(t)
	tests := []struct {
		name    string
		write   func(id, draft string) // writes job:{id} and friends
		status  store.Status
		errIs   error
		failure string
	}{
		{"pending json", func(id, d string) { c.Set(ctx, "job:"+id, `{"status":"PENDING","eventDraftId":"`+d+`"}`, 0) }, store.Pending, nil, ""},
		{"processing hash", func(id, d string) { c.HSet(ctx, "job:"+id, "status", "PROCESSING", "eventDraftId", d) }, store.Processing, nil, ""},
		{"completed json", func(id, d string) {
			c.Set(ctx, "ai:recommendation:"+d, resultJSON, 0)
			c.Set(ctx, "job:"+id, `{"jobId":"`+id+`","status":"COMPLETED","eventDraftId":"`+d+`"}`, 0)
		}, store.Completed, nil, ""},
		{"completed hash", func(id, d string) {
			c.Set(ctx, "ai:recommendation:"+d, resultJSON, 0)
			c.HSet(ctx, "job:"+id, "status", "COMPLETED", "eventDraftId", d)
		}, store.Completed, nil, ""},
		{"completed hash with quoted values", func(id, d string) {
			c.Set(ctx, "ai:recommendation:"+d, resultJSON, 0)
			c.HSet(ctx, "job:"+id, "status", `"COMPLETED"`, "eventDraftId", `"`+d+`"`, "_class", "com.example.Job")
		}, store.Completed, nil, ""},
		{"failed with error", func(id, d string) {
			c.Set(ctx, "job:"+id+":error", "모델 시간 초과", 0)
			c.Set(ctx, "job:"+id, `{"status":"FAILED","eventDraftId":"`+d+`"}`, 0)
		}, store.Failed, nil, "모델 시간 초과"},
		{"failed hash without error key", func(id, d string) { c.HSet(ctx, "job:"+id, "status", "FAILED") }, store.Failed, nil, store.DefaultFailure},
		{"missing", func(id, d string) {}, "", store.ErrNotFound, ""},
		{"completed without result", func(id, d string) {
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"`+d+`"}`, 0)
		}, "", store.ErrNoResult, ""},
		{"completed without eventDraftId", func(id, d string) { c.Set(ctx, "job:"+id, `{"status":"COMPLETED"}`, 0) }, "", store.ErrNoResult, ""},
		{"completed with corrupt result", func(id, d string) {
			c.Set(ctx, "ai:recommendation:"+d, `{"recommendations":[`, 0)
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"`+d+`"}`, 0)
		}, "", store.ErrNoResult, ""},
		{"completed with result of wrong type", func(id, d string) {
			c.HSet(ctx, "ai:recommendation:"+d, "x", "y")
			c.Set(ctx, "job:"+id, `{"status":"COMPLETED","eventDraftId":"`+d+`"}`, 0)
		}, "", store.ErrNoResult, ""},
		{"corrupt json", func(id, d string) { c.Set(ctx, "job:"+id, `{"status":`, 0) }, "", store.ErrCorrupt, ""},
		{"unknown status", func(id, d string) { c.Set(ctx, "job:"+id, `{"status":"DONE"}`, 0) }, "", store.ErrCorrupt, ""},
		{"hash without status", func(id, d string) { c.HSet(ctx, "job:"+id, "eventDraftId", d) }, "", store.ErrCorrupt, ""},
		{"job as a list", func(id, d string) { c.RPush(ctx, "job:"+id, "x") }, "", store.ErrCorrupt, ""},
		{"job as a set", func(id, d string) { c.SAdd(ctx, "job:"+id, "x") }, "", store.ErrCorrupt, ""},
		{"job as a zset", func(id, d string) { c.ZAdd(ctx, "job:"+id, redis.Z{Score: 1, Member: "x"}) }, "", store.ErrCorrupt, ""},
		{"job as a stream", func(id, d string) {
			c.XAdd(ctx, &redis.XAddArgs{Stream: "job:" + id, Values: []string{"status", "COMPLETED"}})
		}, "", store.ErrCorrupt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newID(t)
			draft := "draft-" + id
			tt.write(id, draft)
			sn, err := storetest.ReadOne(ctx, st, id)
			if tt.errIs != nil {
				require.ErrorIs(t, err, tt.errIs)
				assert.ErrorIs(t, sn.Err, tt.errIs)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.status, sn.Job.Status)
			assert.Equal(t, id, sn.Job.JobID)
			assert.Equal(t, tt.failure, sn.Error)
			if tt.status == store.Completed {
				require.NotNil(t, sn.Result)
				assert.JSONEq(t, `{"summary":"s","keywords":["k"]}`, string(sn.Result.TrendAnalysis))
				assert.Equal(t, "커피쿠폰", sn.Result.Recommendations[0].Prize)
			}
		})
	}
}

func TestReadManyKeepsOrderAndIsolatesJobs(t *testing.T) {
	ctx := context.Background()
	st, c := setup(t)
	ids := []string{newID(t), newID(t), newID(t), newID(t)}
	c.Set(ctx, "job:"+ids[0], `{"status":"PENDING"}`, 0)
	c.HSet(ctx, "job:"+ids[2], "status", "FAILED")
	c.Set(ctx, "job:"+ids[3], `garbage`, 0)

	snaps, err := st.ReadMany(ctx, ids)
	require.NoError(t, err)
	require.Len(t, snaps, 4)
	assert.Equal(t, store.Pending, snaps[0].Job.Status)
	assert.ErrorIs(t, snaps[1].Err, store.ErrNotFound)
	assert.Equal(t, store.Failed, snaps[2].Job.Status)
	assert.ErrorIs(t, snaps[3].Err, store.ErrCorrupt)
}

func TestProducerWritesResultBeforeStatusWithTTLs(t *testing.T) {
	ctx := context.Background()
	st, c := setup(t)
	id, draft := newID(t), "draft-"+newID(t)

	j, err := st.Create(ctx, id, draft)
	require.NoError(t, err)
	sn, err := storetest.ReadOne(ctx, st, id)
	require.NoError(t, err)
	assert.Equal(t, store.Pending, sn.Job.Status)
	assert.Equal(t, store.JobType, sn.Job.Type)

	j, err = st.Start(ctx, j)
	require.NoError(t, err)
	sn, _ = storetest.ReadOne(ctx, st, id)
	assert.Equal(t, store.Processing, sn.Job.Status)

	_, err = st.Complete(ctx, j, store.SampleResult(draft))
	require.NoError(t, err)
	sn, err = storetest.ReadOne(ctx, st, id)
	require.NoError(t, err)
	assert.Equal(t, store.Completed, sn.Job.Status)
	assert.Len(t, sn.Result.Recommendations, 3)
	assert.Equal(t, draft, sn.Result.EventDraftID)

	jobTTL := c.TTL(ctx, store.JobKey(id)).Val()
	resTTL := c.TTL(ctx, store.ResultKey(draft)).Val()
	assert.InDelta(t, store.JobTTL.Seconds(), jobTTL.Seconds(), 5)
	assert.InDelta(t, store.ResultTTL.Seconds(), resTTL.Seconds(), 5)

	id2 := newID(t)
	j2, err := st.Create(ctx, id2, draft)
	require.NoError(t, err)
	_, err = st.Fail(ctx, j2, "boom")
	require.NoError(t, err)
	sn, err = storetest.ReadOne(ctx, st, id2)
	require.NoError(t, err)
	assert.Equal(t, store.Failed, sn.Job.Status)
	assert.Equal(t, "boom", sn.Error)
	assert.InDelta(t, store.JobTTL.Seconds(), c.TTL(ctx, store.ErrorKey(id2)).Val().Seconds(), 5)
}

func TestReadWhenRedisIsGone(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	st := store.New(c)
	ctx := context.Background()
	id := newID(t)
	_, err := st.Create(ctx, id, "d")
	require.NoError(t, err)

	srv.Stop()
	_, err = storetest.ReadOne(ctx, st, id)
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorIs(t, st.Ping(ctx), store.ErrUnavailable)
	_, err = st.Create(ctx, newID(t), "d")
	assert.ErrorIs(t, err, store.ErrUnavailable)

	srv.Resume(t)
	_, err = storetest.ReadOne(ctx, st, id) // the restarted server is empty
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.False(t, errors.Is(err, store.ErrUnavailable))
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"7f0c-abc_DEF", true},
		{"a", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"a:b", false},
		{"a*", false},
		{"a b", false},
		{"a/b", false},
		{"a%3Ab", false},
		{"잡", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		if got := store.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v; want %v", tt.id, got, tt.want)
		}
	}
}

func TestIDFromKey(t *testing.T) {
	tests := []struct {
		key, id string
		ok      bool
	}{
		{"job:abc", "abc", true},
		{"job:abc:error", "abc", true},
		{"job:", "", false},
		{"job::error", "", false},
		{"ai:recommendation:abc", "", false},
		{"job:a:b", "", false},
		{"jobs:abc", "", false},
	}
	for _, tt := range tests {
		id, ok := store.IDFromKey(tt.key)
		if id != tt.id && tt.ok || ok != tt.ok {
			t.Errorf("IDFromKey(%q) = %q, %v; want %q, %v", tt.key, id, ok, tt.id, tt.ok)
		}
	}
}

// TestRefusedReads: a read Redis refuses (an ACL without the command) is
// ErrRefused, naming the command, its key and the missing rule; an MGET
// refused is not sent again by the next reads, which read the same with a
// GET per key instead.
func TestRefusedReads(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "reader", "on", ">pw", "~*", "+get", "+hgetall").Err())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "reader", Password: "pw", DisableIdentity: true, MaintNotificationsConfig: redistest.Quiet()})
	t.Cleanup(func() { rdb.Close() })
	st, p := store.New(rdb), storetest.NewProducer(admin, "ref")

	j := p.Create(t)
	require.NoError(t, p.Complete(ctx, j))
	for range 3 {
		snaps, err := st.ReadManyWith(ctx, []string{j.JobID}, store.Hints{Drafts: []string{j.EventDraftID}})
		require.NoError(t, err)
		assert.Equal(t, store.Completed, snaps[0].Job.Status)
		assert.NotNil(t, snaps[0].Result)
	}
	stats, err := admin.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	assert.Contains(t, stats, "cmdstat_mget:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,", "one MGET refused, not one per read")

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "reader", "-get").Err())
	_, err = st.ReadMany(ctx, []string{j.JobID})
	assert.ErrorIs(t, err, store.ErrRefused)
	assert.NotErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorContains(t, err, "GET job:"+j.JobID+" (the user may not run it: +get is missing)")
}

// TestCredentialsRefusedOnReconnect: when Redis refuses jobwait's
// credentials on a new connection (a password rotated, a user disabled),
// go-redis leaves a pipeline's commands without an error of their own;
// every read must still fail as ErrUnavailable, for one job and for a
// batch (one MGET), never read as empty answers.
func TestCredentialsRefusedOnReconnect(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "rotated", "on", ">pw", "~*", "+@all").Err())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "rotated", Password: "pw", MaxRetries: -1,
		DisableIdentity: true, MaintNotificationsConfig: redistest.Quiet()})
	t.Cleanup(func() { rdb.Close() })
	st, p := store.New(rdb), storetest.NewProducer(admin, "rot")
	jobs := p.Jobs(t, 3)
	ids := []string{jobs[0].JobID, jobs[1].JobID, jobs[2].JobID}
	_, err := st.ReadMany(ctx, ids)
	require.NoError(t, err)

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "rotated", "resetpass", ">other").Err())
	require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "USER", "rotated").Err())
	for _, batch := range [][]string{ids[:1], ids} {
		snaps, err := st.ReadMany(ctx, batch)
		assert.ErrorIs(t, err, store.ErrUnavailable, "%d jobs: %v", len(batch), snaps)
		_, err = st.ReadManyWith(ctx, batch, store.Hints{Drafts: []string{jobs[0].EventDraftID}})
		assert.ErrorIs(t, err, store.ErrUnavailable, "%d jobs, hinted", len(batch))
	}
}
