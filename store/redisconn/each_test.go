package redisconn

import (
	"context"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
)

// TestEachMaster: one node's client is its only master; a cluster's
// client reaches each master once, and Single tells the two apart.
func TestEachMaster(t *testing.T) {
	ctx := context.Background()
	visited := func(c redis.UniversalClient) map[string]int {
		var mu sync.Mutex
		seen := map[string]int{}
		require.NoError(t, EachMaster(ctx, c, func(ctx context.Context, rc *redis.Client) error {
			if err := rc.Ping(ctx).Err(); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			seen[rc.Options().Addr]++
			return nil
		}))
		return seen
	}
	srv := redistest.Start(t)
	one := srv.Client(t)
	assert.Equal(t, map[string]int{srv.Addr(): 1}, visited(one))
	_, ok := Single(one)
	assert.True(t, ok)

	c := redistest.StartCluster(t)
	cc := c.Client(t)
	want := map[string]int{}
	for _, m := range c.Masters(t) {
		want[m.Addr()] = 1
	}
	assert.Equal(t, want, visited(cc))
	_, ok = Single(cc)
	assert.False(t, ok)
}
