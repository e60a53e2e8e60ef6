package stream

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is what the hub needs of Redis besides reading jobs (Config.Read);
// store/redisconn's Conn has it.
type Redis interface {
	// Ping asks Redis for a sign of life: poll mode's, at each tick.
	Ping(ctx context.Context) *redis.StatusCmd
	// Publishers asks which nodes publish the watched keys' events now.
	Publishers(ctx context.Context) (Publishers, error)
}

// Publishers are the nodes that publish the keyspace events of the watched
// keys, at one moment: the one node, Sentinel's primary, or each master of
// a Redis Cluster, which publishes the events of its own keys only.
type Publishers struct {
	// Masters publish: the hub holds a subscription on each.
	Masters []Node
	// Standby are nodes that may publish later (a cluster's replicas, one
	// of which a failover promotes): the hub gives them NotifyFlags ahead.
	Standby []Node
	// Shape says which keys each master's events cover (on a cluster, the
	// masters and their slots): when it changes, the hub resubscribes and
	// re-reads every watched job.
	Shape string
	// Owner names the master that publishes key's events (on a cluster,
	// the master of its slot); nil: the first of Masters publishes all.
	Owner func(key string) string
}

// Node is one Redis node the hub subscribes on.
type Node struct {
	Name   string // tells nodes apart, and names the node in the log
	Client NodeClient
}

// NodeClient is what the hub sends one node: its subscriptions, and the
// reading and restoring of its notify-keyspace-events.
type NodeClient interface {
	// Subscriber returns a subscription connection to the node with
	// nothing subscribed yet; it connects on its first command.
	Subscriber(ctx context.Context) Subscriber
	ConfigGet(ctx context.Context, parameter string) *redis.MapStringStringCmd
	ConfigSet(ctx context.Context, parameter, value string) *redis.StatusCmd
}

// Subscriber is one subscription connection (go-redis's *redis.PubSub).
// Its commands may be sent while another goroutine receives; what it
// receives is a *redis.Message, *redis.Subscription or *redis.Pong.
type Subscriber interface {
	Subscribe(ctx context.Context, channels ...string) error
	Unsubscribe(ctx context.Context, channels ...string) error
	PSubscribe(ctx context.Context, patterns ...string) error
	Ping(ctx context.Context, payload ...string) error
	ReceiveTimeout(ctx context.Context, timeout time.Duration) (any, error)
	Close() error
}

// NotifyFlags are the notify-keyspace-events classes the hub needs:
// keyspace events (K) for generic commands such as DEL (g), strings ($),
// hashes (h), expiry (x) and eviction (e).
const NotifyFlags = "Kg$hxe"

// MergeFlags returns have with the classes of need that it lacks appended.
// "A" in have stands for "g$lshzxetd".
func MergeFlags(have, need string) string {
	covered := have
	if strings.Contains(have, "A") {
		covered += "g$lshzxetd"
	}
	for _, c := range need {
		if !strings.ContainsRune(covered, c) {
			have += string(c)
			covered += string(c)
		}
	}
	return have
}

// restoreFlags adds NotifyFlags to node c's notify-keyspace-events,
// keeping what is set. It returns what was set, and whether it lacked any
// of NotifyFlags; err is CONFIG GET's, or CONFIG SET's when it lacked.
func restoreFlags(ctx context.Context, c NodeClient) (have string, lacked bool, err error) {
	cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return "", false, err
	}
	have = cur["notify-keyspace-events"]
	want := MergeFlags(have, NotifyFlags)
	if want == have {
		return have, false, nil
	}
	return have, true, c.ConfigSet(ctx, "notify-keyspace-events", want).Err()
}

// enableNotifications adds NotifyFlags on every node that publishes now or
// may later.
func (h *Hub[T]) enableNotifications(ctx context.Context) error {
	p, err := h.cfg.Redis.Publishers(ctx)
	if err != nil {
		return err
	}
	for _, n := range slices.Concat(p.Masters, p.Standby) {
		if _, _, err := restoreFlags(ctx, n.Client); err != nil {
			return err
		}
	}
	return nil
}

// isRefused tells a server that answers but refuses CONFIG (renamed, ACL,
// managed Redis) from one that cannot be reached.
func isRefused(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// channelPrefix is the keyspace channel prefix of database db.
func channelPrefix(db int) string { return "__keyspace@" + strconv.Itoa(db) + "__:" }
