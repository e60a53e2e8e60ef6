package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store"
	"jobwait/store/redistest"
)

// TestTTLs: a job's time to live as Redis counts it; 0 for one that does
// not expire, below 0 for one that is gone, in one round trip.
func TestTTLs(t *testing.T) {
	ctx := context.Background()
	c := redistest.Shared(t).Client(t)
	st := store.New(c)
	hour, forever, soon, gone := newID(t), newID(t), newID(t), newID(t)
	require.NoError(t, c.Set(ctx, "job:"+hour, `{"status":"PENDING"}`, time.Hour).Err())
	require.NoError(t, c.Set(ctx, "job:"+forever, `{"status":"PENDING"}`, 0).Err())
	require.NoError(t, c.HSet(ctx, "job:"+soon, "status", "PENDING").Err())
	require.NoError(t, c.PExpire(ctx, "job:"+soon, 1500*time.Millisecond).Err())
	trips := redistest.CountTrips(c)
	_, err := st.TTLs(ctx, []string{gone}) // the connection's handshake
	require.NoError(t, err)
	trips.Reset()
	ttls, err := st.TTLs(ctx, []string{hour, forever, soon, gone})
	require.NoError(t, err)
	n, _ := trips.Count()
	assert.Equal(t, 1, n, "round trips")
	assert.InDelta(t, time.Hour.Seconds(), ttls[0].Seconds(), 60)
	assert.Zero(t, ttls[1])
	assert.InDelta(t, 1.5, ttls[2].Seconds(), 1, "a hash's too")
	assert.Negative(t, ttls[3])
}

// TestTTLsWithoutPTTL: an ACL user without PTTL reads every job as not
// expiring, and is not asked again.
func TestTTLsWithoutPTTL(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "old", "on", ">secret", "resetkeys", "-@all", "%R~job:*", "+get", "+ping").Err())
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "old", Password: "secret"})
	t.Cleanup(func() { c.Close() })
	id := newID(t)
	require.NoError(t, admin.Set(ctx, "job:"+id, `{"status":"PENDING"}`, time.Hour).Err())
	st := store.New(c)
	trips := redistest.CountTrips(c)
	for range 2 {
		ttls, err := st.TTLs(ctx, []string{id})
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{0}, ttls)
	}
	_, cmds := trips.Count()
	assert.Equal(t, 1, counts(cmds)["pttl"], "asked once: %v", cmds)
}
