package redisconn

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"

	"jobwait/stream"
)

// TestPermissions: the commands jobwait sends, by shape and notify mode,
// in the order of docs/production.md's ACL rules; which are checked every
// second and which tried at start only; which ones requests need.
func TestPermissions(t *testing.T) {
	reads := []string{"GET on job:*", "HGETALL on job:*", "GET on job:*:error", "GET on ai:recommendation:*"}
	mget := "MGET on job:*, job:*:error and ai:recommendation:*"
	sub := "PSUBSCRIBE on __keyspace@0__:job:*"
	config := []string{"CONFIG GET notify-keyspace-events", "CONFIG SET notify-keyspace-events"}
	clusterRules := []string{"CLUSTER SLOTS", "CLUSTER SHARDS", "COMMAND"}
	cat := func(parts ...any) []string {
		var out []string
		for _, p := range parts {
			switch p := p.(type) {
			case string:
				out = append(out, p)
			case []string:
				out = append(out, p...)
			}
		}
		return out
	}
	node := &Conn{}
	tests := []struct {
		name string
		conn *Conn
		mode stream.Mode
		want []string
	}{
		{"node, poll", node, stream.Poll, cat(reads, mget, "PING")},
		{"node, keyspace", node, stream.Keyspace, cat(reads, mget, "PING", sub, "PTTL on job:*")},
		{"node, auto", node, stream.Auto, cat(reads, mget, "PING", sub, "PTTL on job:*", config)},
		{"database 3", &Conn{db: 3}, stream.Keyspace, cat(reads, mget, "PING", "PSUBSCRIBE on __keyspace@3__:job:*", "PTTL on job:*")},
		{"embedded", &Conn{embedded: true}, stream.Auto, cat(reads, mget, "PING")},
		{"cluster, auto", &Conn{cluster: &cluster{}}, stream.Auto, cat(reads, "PING", sub, "PTTL on job:*", config, clusterRules)},
		{"cluster, poll", &Conn{cluster: &cluster{}}, stream.Poll, cat(reads, "PING")},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range tt.conn.Permissions(tt.mode) {
			got = append(got, p.Name)
			assert.NotEmpty(t, p.Grant, "%s: %s grants nothing", tt.name, p.Name)
			assert.NotEmpty(t, p.Cost, "%s: %s costs nothing", tt.name, p.Name)
			assert.True(t, (p.queue == nil) != (p.try == nil), "%s: %s: exactly one of queue and try", tt.name, p.Name)
		}
		assert.Equal(t, tt.want, got, tt.name)
	}

	needed := map[string]bool{}
	checked := map[string]bool{}
	for _, p := range (&Conn{cluster: &cluster{}}).Permissions(stream.Auto) {
		needed[p.Name], checked[p.Name] = p.Needed, p.Checked()
	}
	for _, r := range reads {
		assert.True(t, needed[r], "%s: requests need it", r)
		assert.True(t, checked[r], "%s: checked every second", r)
	}
	assert.True(t, needed[sub] && !checked[sub], "the subscription: needed, tried at start (the hub tells the rest)")
	assert.True(t, needed["CLUSTER SLOTS"], "go-redis routes nothing without it")
	assert.False(t, needed["PTTL on job:*"] || needed["PING"] || needed[config[0]] || needed["CLUSTER SHARDS"], "fallbacks")
	assert.True(t, checked[config[0]] && !checked[config[1]], "CONFIG GET every second, CONFIG SET at start")
}

// TestOfTellsTheShape: a client made elsewhere is a cluster when it is a
// cluster client, one node otherwise, with the node's database.
func TestOfTellsTheShape(t *testing.T) {
	rc := redis.NewClient(&redis.Options{Addr: "h:6379", DB: 5})
	defer rc.Close()
	c := Of(rc)
	assert.False(t, c.Sharded())
	assert.Equal(t, 5, c.DB())
	assert.Equal(t, "h:6379", c.String())
	assert.Same(t, rc, c.Client())

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"h:7000", "h:7001"}})
	defer cc.Close()
	c = Of(cc)
	assert.True(t, c.Sharded())
	assert.Zero(t, c.DB())
	assert.Equal(t, "cluster h:7000,h:7001", c.String())
	assert.Equal(t, stream.Auto, c.NotifyMode(stream.Auto))
	assert.Equal(t, stream.Poll, (&Conn{embedded: true}).NotifyMode(stream.Auto), "the embedded store publishes nothing")
	assert.Equal(t, stream.Keyspace, (&Conn{embedded: true}).NotifyMode(stream.Keyspace))
}
