package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// expiryBound is README's promise: a watched job whose record expires is
// answered JOB_001 within JOBWAIT_RESYNC/10 (the guard's tick, for a time
// to live looked up less than a tick before it ends) and the 200 ms in
// which a vanished job is read again.
const expiryBound = stream.DefaultResync/10 + stream.DefaultConfirmDelay

// TestExpiredJobsReachWaitersWithinTheBound lets the records of watched
// jobs expire, their time to live set before the wait, by EXPIRE during
// it, or by a SET … PX rewriting the job during it, on a Redis holding
// thousands of other keys with a TTL (so that its own sampling finds an
// expired key only seconds later): every waiter is answered JOB_001 within
// expiryBound of its job's expiry.
func TestExpiredJobsReachWaitersWithinTheBound(t *testing.T) {
	t.Parallel()
	const budget = 20 * time.Second
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	ctx := context.Background()
	p := r.rdb.Pipeline()
	for i := range 3000 {
		p.Set(ctx, fmt.Sprintf("other:%d", i), "x", time.Hour)
	}
	_, err := p.Exec(ctx)
	require.NoError(t, err)

	// Each way sets job j's time to live and returns when its record
	// expires at the earliest: the command's start and the TTL.
	ways := []struct {
		name   string
		before bool // set before the waiters come
		expire func(t *testing.T, j store.Job) time.Time
	}{
		{"TTL set before the wait", true, func(t *testing.T, j store.Job) time.Time {
			at := time.Now()
			require.NoError(t, r.rdb.PExpire(ctx, store.JobKey(j.JobID), 3*time.Second).Err())
			return at.Add(3 * time.Second)
		}},
		{"EXPIRE during the wait", false, func(t *testing.T, j store.Job) time.Time {
			at := time.Now()
			require.NoError(t, r.rdb.PExpire(ctx, store.JobKey(j.JobID), time.Second).Err())
			return at.Add(time.Second)
		}},
		{"SET PX during the wait", false, func(t *testing.T, j store.Job) time.Time {
			raw, err := r.rdb.Get(ctx, store.JobKey(j.JobID)).Result()
			require.NoError(t, err)
			at := time.Now()
			require.NoError(t, r.rdb.Set(ctx, store.JobKey(j.JobID), raw, time.Second).Err())
			return at.Add(time.Second)
		}},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			jobs := r.jobs.Jobs(t, 6)
			expires := map[string]time.Time{}
			if way.before {
				for _, j := range jobs {
					expires[j.JobID] = way.expire(t, j)
				}
			}
			var w streamtest.Group[outcome]
			r.holdMix(t, &w, jobs, budget)
			if !way.before {
				for _, j := range jobs {
					expires[j.JobID] = way.expire(t, j)
				}
			}
			for _, o := range w.Wait(t, budget+slack) {
				assert.NoError(t, o.err, "%v", o)
				assert.Equal(t, "JOB_001", o.errCode, "%v", o)
				if o.kind == "sse" {
					assert.Equal(t, "problem", o.event, "%v", o)
				} else {
					assert.Equal(t, http.StatusNotFound, o.code, "%v", o)
				}
				late := o.ended.Sub(expires[o.job])
				t.Logf("%s: answered %v after its record expired", o.kind, late.Round(time.Millisecond))
				assert.LessOrEqual(t, late, expiryBound, "%v: answered within %v of its expiry", o, expiryBound)
			}
		})
	}
}
