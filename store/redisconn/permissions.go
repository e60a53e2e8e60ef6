package redisconn

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/stream"
)

// probeJob is the job whose keys the checks read: no producer writes it.
const probeJob = "jobwait-acl-probe"

// Permission is one command jobwait sends Redis, a harmless way to try it,
// and what jobwait does without it.
type Permission struct {
	Name  string // the command and what it touches, as the log and /readyz say it
	Grant string // the ACL rule that allows it
	Cost  string // what jobwait does without it
	// Needed: without it requests fail, and /readyz is 503. Without any
	// other, jobwait serves at a cost, and /readyz says degraded.
	Needed bool
	// Exactly one of cmd and try is set: cmd is sent in every check's
	// pipeline; try is tried on its own, at start only (it subscribes,
	// writes, or is large).
	cmd       []any
	try       func(ctx context.Context, c redis.UniversalClient) error
	config    bool   // sent only while the hub manages notify-keyspace-events
	subscribe string // a keyspace subscription's command, as a refusal of the hub's names it
}

// refusal is the cost of a read refused: every read that meets it fails.
const refusal = "requests that read them are answered 503 SVC_002 (Redis refused jobwait's command)"

// Checked reports whether every check sends it; the others are tried at
// start only.
func (p Permission) Checked() bool { return p.cmd != nil }

// Permissions lists exactly the commands jobwait sends Redis under notify
// mode mode, subscribing as sub says, in the order of the ACL rules of
// docs/production.md.
func (conn *Conn) Permissions(mode stream.Mode, sub stream.Subscribe) []Permission {
	job := store.JobKey(probeJob)
	ps := []Permission{
		{Name: "GET on job:*", Grant: "%R~job:* +get", Needed: true, cmd: []any{"get", job},
			Cost: "no job can be read: every request is answered 503 SVC_002 (Redis refused jobwait's command)"},
		{Name: "HGETALL on job:*", Grant: "+hgetall", Needed: true, cmd: []any{"hgetall", job},
			Cost: "jobs written as hashes cannot be read: " + refusal},
		{Name: "GET on job:*:error", Grant: "+get", Needed: true, cmd: []any{"get", store.ErrorKey(probeJob)},
			Cost: "FAILED jobs cannot be read: " + refusal},
		{Name: "GET on ai:recommendation:*", Grant: "%R~ai:recommendation:* +get", Needed: true, cmd: []any{"get", store.ResultKey(probeJob)},
			Cost: "COMPLETED jobs cannot be read: " + refusal},
	}
	if !conn.Sharded() {
		ps = append(ps, Permission{Name: "MGET on job:*, job:*:error and ai:recommendation:*", Grant: "+mget",
			Cost: "jobs, results and error messages are read with a GET each instead of one MGET per 512 keys (an MGET is tried again each minute)",
			cmd:  []any{"mget", store.ResultKey(probeJob), store.ErrorKey(probeJob)}})
	}
	ps = append(ps, Permission{Name: "PING", Grant: "+ping", cmd: []any{"ping"},
		Cost: "the keyspace subscription's health check fails it after every quiet 5 s, and in poll mode the poller takes Redis for unreachable"})
	if mode == stream.Poll || conn.embedded {
		return ps
	}
	ps = append(ps, subscriptions(conn.db, sub)...)
	ps = append(ps, Permission{Name: "PTTL on job:*", Grant: "+pttl",
		Cost: "an expired job reaches its waiters at the next safety re-read (JOBWAIT_RESYNC) instead of within a tick (a PTTL is tried again each minute)",
		cmd:  []any{"pttl", job}})
	if mode == stream.Auto {
		ps = append(ps,
			Permission{Name: "CONFIG GET notify-keyspace-events", Grant: "+config|get", config: true,
				Cost: "notify-keyspace-events cannot be read or set: JOBWAIT_NOTIFY=auto polls the watched jobs (one batched read per 250 ms); grant +config|get +config|set, or preset the flags (" + stream.NotifyFlags + ") and run JOBWAIT_NOTIFY=keyspace, which sends no CONFIG",
				cmd:  []any{"config", "get", "notify-keyspace-events"}},
			Permission{Name: "CONFIG SET notify-keyspace-events", Grant: "+config|set", config: true,
				Cost: "notify-keyspace-events cannot be set: JOBWAIT_NOTIFY=auto polls where the server lacks " + stream.NotifyFlags + ", and a node that loses it (restarted, or a replica promoted) is not given it again",
				try: func(ctx context.Context, c redis.UniversalClient) error {
					// What the hub sets anyway; not on a cluster, whose
					// client might read one node and set another.
					if conn.Sharded() {
						return nil
					}
					cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
					if err != nil {
						return nil // told by CONFIG GET
					}
					have := cur["notify-keyspace-events"]
					return c.ConfigSet(ctx, "notify-keyspace-events", stream.MergeFlags(have, stream.NotifyFlags)).Err()
				}})
	}
	if conn.Sharded() {
		ps = append(ps,
			Permission{Name: "CLUSTER SLOTS", Grant: "+cluster|slots", Needed: true,
				Cost: "go-redis cannot learn which node holds which job: nothing can be read",
				try:  func(ctx context.Context, c redis.UniversalClient) error { return c.ClusterSlots(ctx).Err() }},
			Permission{Name: "CLUSTER SHARDS", Grant: "+cluster|shards",
				Cost: "masters are found with CLUSTER SLOTS instead, which misses a master without slots",
				try:  func(ctx context.Context, c redis.UniversalClient) error { return c.ClusterShards(ctx).Err() }},
			Permission{Name: "COMMAND", Grant: "+command",
				Cost: "go-redis cannot learn where each command's keys are, and routes by the first argument",
				try:  func(ctx context.Context, c redis.UniversalClient) error { return c.Command(ctx).Err() }})
	}
	return ps
}

// subscriptions are the commands of the keyspace subscription of database
// db, each tried at start on probeJob's channel.
func subscriptions(db int, sub stream.Subscribe) []Permission {
	prefix := "__keyspace@" + strconv.Itoa(db) + "__:"
	pattern := prefix + store.JobPattern
	probe := prefix + store.JobKey(probeJob)
	refused := "no keyspace notifications: the subscription is refused over and over and jobwait is not ready (waiters are polled meanwhile); grant it, or run JOBWAIT_NOTIFY=poll"
	if sub == stream.SubscribePattern {
		return []Permission{{Name: "PSUBSCRIBE on " + pattern, Grant: "&" + pattern + " +psubscribe", Needed: true, subscribe: "psubscribe",
			Cost: refused,
			try: func(ctx context.Context, c redis.UniversalClient) error {
				ps := c.PSubscribe(ctx, pattern)
				defer ps.Close()
				_, err := ps.Receive(ctx)
				return err
			}}}
	}
	subscribe := func(ctx context.Context, c redis.UniversalClient) (*redis.PubSub, error) {
		ps := c.Subscribe(ctx, probe)
		_, err := ps.Receive(ctx)
		return ps, err
	}
	return []Permission{
		{Name: "SUBSCRIBE on " + pattern, Grant: "&" + pattern + " +subscribe", Needed: true, subscribe: "subscribe",
			Cost: refused,
			try: func(ctx context.Context, c redis.UniversalClient) error {
				ps, err := subscribe(ctx, c)
				ps.Close()
				return err
			}},
		{Name: "UNSUBSCRIBE", Grant: "+unsubscribe", Needed: true, subscribe: "unsubscribe",
			Cost: "the channels of jobs no longer watched cannot be dropped: the subscription fails at the first, over and over, and jobwait is not ready (waiters are polled meanwhile); grant it, or run JOBWAIT_SUBSCRIBE=pattern",
			try: func(ctx context.Context, c redis.UniversalClient) error {
				ps, err := subscribe(ctx, c)
				defer ps.Close()
				if err != nil {
					return nil // told by SUBSCRIBE
				}
				if err := ps.Unsubscribe(ctx, probe); err != nil {
					return err
				}
				_, err = ps.Receive(ctx)
				return err
			}},
	}
}

// refuses reports whether err, a refusal of the hub's subscription, is
// pm's: of its command, or of the channels (its rule grants them).
func (pm Permission) refuses(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "'"+pm.subscribe+"'") ||
		pm.subscribe != "unsubscribe" && strings.Contains(msg, "channel")
}

// isAuthRefused tells a refusal of jobwait's credentials (HELLO or AUTH).
func isAuthRefused(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH")
}
