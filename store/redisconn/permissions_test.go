package redisconn

import (
	"errors"
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
	psub := "PSUBSCRIBE on __keyspace@0__:job:*"
	sub := []string{"SUBSCRIBE on __keyspace@0__:job:*", "UNSUBSCRIBE"}
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
	keys, pattern := stream.SubscribeKeys, stream.SubscribePattern
	tests := []struct {
		name string
		conn *Conn
		mode stream.Mode
		sub  stream.Subscribe
		want []string
	}{
		{"node, poll", node, stream.Poll, keys, cat(reads, mget, "PING")},
		{"node, keyspace", node, stream.Keyspace, keys, cat(reads, mget, "PING", sub, "PTTL on job:*")},
		{"node, keyspace, pattern", node, stream.Keyspace, pattern, cat(reads, mget, "PING", psub, "PTTL on job:*")},
		{"node, auto", node, stream.Auto, keys, cat(reads, mget, "PING", sub, "PTTL on job:*", config)},
		{"database 3", &Conn{db: 3}, stream.Keyspace, pattern, cat(reads, mget, "PING", "PSUBSCRIBE on __keyspace@3__:job:*", "PTTL on job:*")},
		{"database 3, keys", &Conn{db: 3}, stream.Keyspace, keys, cat(reads, mget, "PING", "SUBSCRIBE on __keyspace@3__:job:*", "UNSUBSCRIBE", "PTTL on job:*")},
		{"embedded", &Conn{embedded: true}, stream.Auto, keys, cat(reads, mget, "PING")},
		{"cluster, auto", &Conn{cluster: &cluster{}}, stream.Auto, keys, cat(reads, "PING", sub, "PTTL on job:*", config, clusterRules)},
		{"cluster, auto, pattern", &Conn{cluster: &cluster{}}, stream.Auto, pattern, cat(reads, "PING", psub, "PTTL on job:*", config, clusterRules)},
		{"cluster, poll", &Conn{cluster: &cluster{}}, stream.Poll, keys, cat(reads, "PING")},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range tt.conn.Permissions(tt.mode, tt.sub) {
			got = append(got, p.Name)
			assert.NotEmpty(t, p.Grant, "%s: %s grants nothing", tt.name, p.Name)
			assert.NotEmpty(t, p.Cost, "%s: %s costs nothing", tt.name, p.Name)
			assert.True(t, (p.cmd == nil) != (p.try == nil), "%s: %s: exactly one of cmd and try", tt.name, p.Name)
		}
		assert.Equal(t, tt.want, got, tt.name)
	}

	needed := map[string]bool{}
	checked := map[string]bool{}
	for _, sub := range []stream.Subscribe{keys, pattern} {
		for _, p := range (&Conn{cluster: &cluster{}}).Permissions(stream.Auto, sub) {
			needed[p.Name], checked[p.Name] = p.Needed, p.Checked()
		}
	}
	for _, r := range reads {
		assert.True(t, needed[r], "%s: requests need it", r)
		assert.True(t, checked[r], "%s: checked every second", r)
	}
	for _, s := range append(sub, psub) {
		assert.True(t, needed[s] && !checked[s], "%s: needed, tried at start (the hub tells the rest)", s)
	}
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

// TestSubscriptionRefusals: a refusal the hub's subscription meets is
// told as the permission it lacks: the command Redis names, or the
// channels, which the subscribing command's rule grants.
func TestSubscriptionRefusals(t *testing.T) {
	channels := errors.New("NOPERM this user has no permissions to access one of the channels used as arguments")
	command := func(c string) error {
		return errors.New("NOPERM this user has no permissions to run the '" + c + "' command")
	}
	keys := subscriptions(0, stream.SubscribeKeys)
	sub, unsub := keys[0], keys[1]
	psub := subscriptions(0, stream.SubscribePattern)[0]
	assert.True(t, sub.refuses(channels))
	assert.True(t, sub.refuses(command("subscribe")))
	assert.False(t, sub.refuses(command("unsubscribe")))
	assert.True(t, unsub.refuses(command("unsubscribe")))
	assert.False(t, unsub.refuses(channels))
	assert.False(t, unsub.refuses(command("subscribe")))
	assert.True(t, psub.refuses(channels))
	assert.True(t, psub.refuses(command("psubscribe")))
	assert.False(t, psub.refuses(command("subscribe")))
}
