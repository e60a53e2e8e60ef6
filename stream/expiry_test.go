package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/stream"
)

// pttls is a Config.TTLs over c: a PTTL of job:{id} each, in one pipeline.
func pttls(c *redis.Client) func(ctx context.Context, ids []string) ([]time.Duration, error) {
	return func(ctx context.Context, ids []string) ([]time.Duration, error) {
		cmds := make([]*redis.DurationCmd, len(ids))
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.PTTL(ctx, "job:"+id)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out := make([]time.Duration, len(ids))
		for i, c := range cmds {
			switch d := c.Val(); {
			case d == -2: // gone
				out[i] = -1
			case d >= 0: // -1: no expiry; 0: within its last millisecond
				out[i] = max(d, time.Millisecond)
			}
		}
		return out, nil
	}
}

// TestExpireIsLearntNotRead, on a real redis-server: an EXPIRE of a
// watched job costs no read, and the job is read when the new time to
// live is up, within a tick of the guard of its expiry, whenever Redis's
// own sampling would find it.
func TestExpireIsLearntNotRead(t *testing.T) {
	f := startHubWith(t, stream.Keyspace, func(c *stream.Config[string], rdb *redis.Client) { c.TTLs = pttls(rdb) })
	ctx := context.Background()
	// Thousands of keys with a TTL: Redis's sampling finds an expired one
	// only seconds later.
	_, err := f.prod.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 3000 {
			p.Set(ctx, fmt.Sprintf("other:%d", i), "x", time.Hour)
		}
		return nil
	})
	require.NoError(t, err)
	f.set(t, "ttl", "PROCESSING")
	f.set(t, "marker", "PENDING")
	w, _ := f.watch(t, "ttl")
	marker, _ := f.watch(t, "marker")
	before := f.hub.Stats()

	// An expire, then a change of the marker: once the marker's waiter
	// has it, the expire was handled before it.
	require.NoError(t, f.prod.Expire(ctx, "job:ttl", time.Hour).Err())
	f.set(t, "marker", "DONE")
	wakeWith(t, marker, "DONE", hubWait)
	after := f.hub.Stats()
	assert.Equal(t, before.Reads+1, after.Reads, "the marker's read; none for the expire")

	expired := time.Now().Add(time.Second)
	require.NoError(t, f.prod.PExpire(ctx, "job:ttl", time.Second).Err())
	wakeWith(t, w, "", hubWait)
	assert.LessOrEqual(t, time.Since(expired), stream.DefaultResync/10, "read within a tick of its expiry")
}
