package redisconn

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
)

// clusterBudget bounds every wait of these tests.
const clusterBudget = 15 * time.Second

func TestFromShards(t *testing.T) {
	node := func(port int64, role, health string) redis.Node {
		return redis.Node{IP: "10.0.0.1", Endpoint: "10.0.0.1", Port: port, Role: role, Health: health}
	}
	slots := []redis.SlotRange{{Start: 0, End: 99}}
	tests := []struct {
		name    string
		shards  []redis.ClusterShard
		masters []string
		nodes   []string
	}{
		{"master and replica", []redis.ClusterShard{{Slots: slots, Nodes: []redis.Node{node(1, "master", "online"), node(2, "replica", "loading")}}},
			[]string{"10.0.0.1:1"}, []string{"10.0.0.1:1", "10.0.0.1:2"}},
		{"master without slots is subscribed", []redis.ClusterShard{{Nodes: []redis.Node{node(1, "master", "online")}}},
			[]string{"10.0.0.1:1"}, []string{"10.0.0.1:1"}},
		{"failed master replaced in its shard", []redis.ClusterShard{{Slots: slots, Nodes: []redis.Node{node(1, "master", "fail"), node(2, "master", "online")}}},
			[]string{"10.0.0.1:2"}, []string{"10.0.0.1:2"}},
		{"failed master without slots is dropped", []redis.ClusterShard{
			{Slots: slots, Nodes: []redis.Node{node(2, "master", "online")}},
			{Nodes: []redis.Node{node(1, "master", "fail")}}},
			[]string{"10.0.0.1:2"}, []string{"10.0.0.1:2"}},
		{"failed master still owning slots is kept", []redis.ClusterShard{{Slots: slots, Nodes: []redis.Node{node(1, "master", "fail"), node(2, "replica", "fail")}}},
			[]string{"10.0.0.1:1"}, []string{"10.0.0.1:1"}},
	}
	c := &cluster{opts: &redis.ClusterOptions{}, routed: map[string]string{}}
	for _, tt := range tests {
		got := newTopology(c.fromShards(tt.shards))
		assert.Equal(t, tt.masters, got.masters, "%s: masters", tt.name)
		assert.Equal(t, tt.nodes, got.nodes, "%s: nodes", tt.name)
	}
}

func TestFromSlotsShape(t *testing.T) {
	slots := []redis.ClusterSlot{
		{Start: 100, End: 199, Nodes: []redis.ClusterNode{{Addr: "10.0.0.1:1"}, {Addr: "10.0.0.1:2"}}},
		{Start: 0, End: 99, Nodes: []redis.ClusterNode{{Addr: "10.0.0.1:1"}}},
		{Start: 200, End: 299, Nodes: []redis.ClusterNode{{Addr: "10.0.0.1:3"}}},
	}
	got := newTopology(fromSlots(slots, func(a string) string { return a }))
	assert.Equal(t, []string{"10.0.0.1:1", "10.0.0.1:3"}, got.masters)
	assert.Equal(t, "10.0.0.1:1 0-99,100-199;10.0.0.1:3 200-299", got.shape)
	assert.Equal(t, []string{"10.0.0.1:1", "10.0.0.1:3", "10.0.0.1:2"}, got.nodes)
}

// TestNodesAsGoRedisHasThem: every master is named as go-redis routes to
// it, and the node clients carry the options go-redis gives its own
// (here the client name and timeouts), not a hand-made subset.
func TestNodesAsGoRedisHasThem(t *testing.T) {
	c := redistest.StartCluster(t)
	cc := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), clusterBudget)
	defer cancel()
	var mu sync.Mutex
	var theirs []string
	var want *redis.Options
	require.NoError(t, cc.ForEachMaster(ctx, func(_ context.Context, rc *redis.Client) error {
		mu.Lock()
		want = rc.Options()
		theirs = append(theirs, rc.Options().Addr)
		mu.Unlock()
		return nil
	}))
	cl := newCluster(cc, slog.New(slog.DiscardHandler))
	defer cl.close()
	cl.learn(ctx)
	top, err := cl.topology(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, theirs, top.masters)

	rc, err := cl.client(top.masters[0])
	require.NoError(t, err)
	o := rc.Options()
	assert.Equal(t, top.masters[0], o.Addr)
	assert.Equal(t, want.DialTimeout, o.DialTimeout)
	assert.Equal(t, want.ReadTimeout, o.ReadTimeout)
	assert.Equal(t, want.PoolTimeout, o.PoolTimeout)
	assert.Equal(t, want.ClientName, o.ClientName)
	assert.Equal(t, want.DialerRetries, o.DialerRetries)
	assert.Equal(t, 2, o.PoolSize)
	require.NoError(t, rc.Ping(ctx).Err())
}
