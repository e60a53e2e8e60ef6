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
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachShard(ctx, enableOn)
	}
	if rc, ok := c.(*redis.Client); ok {
		return enableOn(ctx, rc)
	}
	return errors.New("unsupported redis client")
}

// enableOn adds NotifyFlags to one node's notify-keyspace-events.
func enableOn(ctx context.Context, c *redis.Client) error {
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

// listen keeps one keyspace subscription (one per master on a cluster)
// until ctx ends.
func (h *Hub[T]) listen(ctx context.Context) {
	switch c := h.cfg.Client.(type) {
	case *redis.ClusterClient:
		h.listenCluster(ctx, c)
	case *redis.Client:
		h.subscribe(ctx, c)
	default:
		h.log.Error("keyspace mode needs a redis.Client or a redis.ClusterClient")
	}
}

// subscribe holds the subscription on the one node until ctx ends. Each
// confirmation marks the hub live and re-reads every watched job; each
// failure marks it not live.
func (h *Hub[T]) subscribe(ctx context.Context, c *redis.Client) {
	live := false // touched by keepSubscribed's goroutine only
	h.keepSubscribed(ctx, c, h.cfg.DB, h.cfg.ReadTimeout, func() {
		live = true
		h.listened(news{what: confirmed, on: true})
	}, func(err error) {
		h.listened(news{what: lost, was: live, first: live, err: err})
		live = false
	})
	h.listened(news{what: stopped})
}

// keepSubscribed holds a keyspace subscription on node c, re-creating it
// after every failure, until ctx ends. Each attempt first makes sure the
// node publishes NotifyFlags: a restarted Redis has lost what CONFIG SET
// gave it, and a promoted replica may never have had it. Meanwhile a
// goroutine it owns re-checks the node's flags (guardFlags). Under
// TrustFlags it does neither. confirmed runs on each subscription
// confirmation, lost on each failure.
func (h *Hub[T]) keepSubscribed(ctx context.Context, c *redis.Client, db int, timeout time.Duration, confirmed func(), lost func(error)) {
	prefix := channelPrefix(db)
	b := backoff{}
	gctx, stopGuard := context.WithCancel(ctx)
	guarded := make(chan struct{})
	go func() {
		defer close(guarded)
		if !h.cfg.TrustFlags {
			h.guardFlags(gctx, c, timeout)
		}
	}()
	defer func() {
		stopGuard()
		<-guarded
	}()
	for ctx.Err() == nil {
		var err error
		if !h.cfg.TrustFlags {
			err = ensureNotify(ctx, c, timeout)
		}
		if err == nil {
			ps := c.PSubscribe(ctx, prefix+h.cfg.Pattern)
			stop := context.AfterFunc(ctx, func() { ps.Close() })
			err = h.receive(ctx, ps, len(prefix), &b, confirmed)
			stop()
			ps.Close()
		}
		if ctx.Err() != nil {
			return
		}
		lost(err)
		b.sleep(ctx)
	}
}

// ensureNotify adds NotifyFlags on node c within timeout. A refusal is no
// failure: the mode was chosen at start, and where CONFIG is refused the
// server's own setting is trusted.
func ensureNotify(ctx context.Context, c *redis.Client, timeout time.Duration) error {
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := enableOn(ectx, c); err != nil && !isRefused(err) {
		return err
	}
	return nil
}

// receive reads the subscription until it fails; confirmed is called on
// each subscription confirmation.
func (h *Hub[T]) receive(ctx context.Context, ps *redis.PubSub, prefixLen int, b *backoff, confirmed func()) error {
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
			if len(m.Channel) > prefixLen {
				h.event(m.Channel[prefixLen:], m.Payload, time.Now())
			}
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				b.reset()
				confirmed()
			}
		}
	}
}
