package stream

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NotifyFlags are the notify-keyspace-events classes the hub needs:
// keyspace events (K) for generic commands such as DEL (g), strings ($),
// hashes (h), expiry (x) and eviction (e).
const NotifyFlags = "Kg$hxe"

// healthEvery is how long the subscription may be silent before the hub
// pings through it; a second silent period without the PONG ends it.
const healthEvery = 5 * time.Second

// enableNotifications adds NotifyFlags to each node's notify-keyspace-events,
// keeping what is set.
func enableNotifications(ctx context.Context, c redis.UniversalClient) error {
	apply := func(ctx context.Context, c *redis.Client) error {
		cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			return err
		}
		have := cur["notify-keyspace-events"]
		want := MergeFlags(have, NotifyFlags)
		if want == have {
			return nil
		}
		return c.ConfigSet(ctx, "notify-keyspace-events", want).Err()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachShard(ctx, apply)
	}
	if rc, ok := c.(*redis.Client); ok {
		return apply(ctx, rc)
	}
	return errors.New("unsupported redis client")
}

// MergeFlags returns have with the classes of need that it lacks appended.
// "A" in have stands for "g$lshzxetd".
func MergeFlags(have, need string) string {
	covered := have
	if strings.Contains(have, "A") {
		covered += "g$lshzxetd"
	}
	out := have
	for _, c := range need {
		if !strings.ContainsRune(covered, c) {
			out += string(c)
			covered += string(c)
		}
	}
	return out
}

// isRefused tells a server that answers but refuses CONFIG (renamed, ACL,
// managed Redis) from one that cannot be reached.
func isRefused(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// channelPrefix is the keyspace channel prefix of database db.
func channelPrefix(db int) string { return "__keyspace@" + strconv.Itoa(db) + "__:" }

// listen keeps one keyspace subscription until ctx ends.
func (h *Hub[T]) listen(ctx context.Context) {
	c, ok := h.cfg.Client.(*redis.Client)
	if !ok {
		h.log.Error("keyspace mode needs a single-node client here")
		return
	}
	h.subscribe(ctx, c)
}

// subscribe holds the subscription on one node, re-creating it after every
// failure, until ctx ends. Each confirmation marks the hub live and re-reads
// every watched job; each failure marks it not live.
func (h *Hub[T]) subscribe(ctx context.Context, c *redis.Client) {
	prefix := channelPrefix(h.cfg.DB)
	b := backoff{}
	for ctx.Err() == nil {
		ps := c.PSubscribe(ctx, prefix+h.cfg.Pattern)
		stop := context.AfterFunc(ctx, func() { ps.Close() })
		err := h.receive(ctx, ps, len(prefix), &b)
		stop()
		ps.Close()
		if ctx.Err() != nil {
			break
		}
		h.lost(err)
		b.sleep(ctx)
	}
	h.live.Store(false)
	h.setFresh(false)
}

// receive reads the subscription until it fails.
func (h *Hub[T]) receive(ctx context.Context, ps *redis.PubSub, prefixLen int, b *backoff) error {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, healthEvery)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			if m.Payload == "expire" { // a TTL change leaves the value as it was
				continue
			}
			if len(m.Channel) > prefixLen {
				h.notify(m.Channel[prefixLen:], time.Now())
			}
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				b.reset()
				h.subscribed()
			}
		}
	}
}

// subscribed: the subscription is (again) confirmed; every watched job is
// re-read, since changes made while it was down were not published to us.
func (h *Hub[T]) subscribed() {
	h.stats.resyncs.Add(1)
	h.live.Store(true)
	h.setFresh(true)
	h.resync(time.Now())
	h.log.Info("keyspace subscription live; watched jobs re-read")
}

// lost: the subscription failed; until it is back, new waiters read Redis
// themselves.
func (h *Hub[T]) lost(err error) {
	if h.live.Swap(false) {
		h.stats.reconnects.Add(1)
		h.log.Warn("keyspace subscription lost; reconnecting", "err", err)
	}
	h.setFresh(false)
}
