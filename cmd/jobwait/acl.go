package main

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/stream"
)

// probeJob is the job id whose keys the permission checks read: no
// producer writes it, so reading it changes nothing.
const probeJob = "jobwait-acl-probe"

// permission is one command jobwait sends Redis, a harmless way to try it,
// and what jobwait does without it. The list (permissions) is exactly
// what jobwait sends, so that README's ACL rules are all it needs and a
// user with them has nothing refused.
type permission struct {
	name  string // the command and what it touches, as the log and /readyz say it
	grant string // the ACL rule that allows it
	cost  string // what jobwait does without it
	// needed: without it requests fail, and /readyz is 503. Without any
	// other, jobwait serves at a cost, and /readyz says degraded.
	needed bool
	// Exactly one of queue and try is set. queue adds the try to the one
	// pipeline of every check (each second, see checker); try is tried on
	// its own, at start only (it subscribes, or writes, or is large).
	queue func(ctx context.Context, p redis.Pipeliner) redis.Cmder
	try   func(ctx context.Context, c redis.UniversalClient) error
	// config: sent only while the hub manages notify-keyspace-events
	// (JOBWAIT_NOTIFY=auto, until it falls back to polling).
	config bool
	// subscribe: the keyspace subscription's, which the hub reports on
	// while it runs.
	subscribe bool
}

// refusal is the cost of a read refused: every read that meets it fails,
// other jobs of the same batched read included.
const refusal = "requests that read them are answered 503 SVC_002 (Redis refused jobwait's command)"

// permissions lists the commands jobwait sends Redis under notify mode
// mode on be, reading as st does, in the order of README's ACL rules.
func permissions(be *backend, mode stream.Mode, st *store.Store) []permission {
	get := func(key string) func(context.Context, redis.Pipeliner) redis.Cmder {
		return func(ctx context.Context, p redis.Pipeliner) redis.Cmder { return p.Get(ctx, key) }
	}
	ps := []permission{
		{name: "GET on job:*", grant: "%R~job:* +get", needed: true, queue: get(store.JobKey(probeJob)),
			cost: "no job can be read: every request is answered 503 SVC_002 (Redis refused jobwait's command)"},
		{name: "HGETALL on job:*", grant: "+hgetall", needed: true, cost: "jobs written as hashes cannot be read: " + refusal,
			queue: func(ctx context.Context, p redis.Pipeliner) redis.Cmder {
				return p.HGetAll(ctx, store.JobKey(probeJob))
			}},
		{name: "GET on job:*:error", grant: "+get", needed: true, queue: get(store.ErrorKey(probeJob)),
			cost: "FAILED jobs cannot be read: " + refusal},
		{name: "GET on ai:recommendation:*", grant: "%R~ai:recommendation:* +get", needed: true, queue: get(store.ResultKey(probeJob)),
			cost: "COMPLETED jobs cannot be read: " + refusal},
	}
	if st.UsesMGet() {
		ps = append(ps, permission{name: "MGET on job:*, job:*:error and ai:recommendation:*", grant: "+mget",
			cost: "jobs, results and error messages are read with a GET each instead of one MGET per 512 keys (an MGET is tried again each minute)",
			queue: func(ctx context.Context, p redis.Pipeliner) redis.Cmder {
				return p.MGet(ctx, store.ResultKey(probeJob), store.ErrorKey(probeJob))
			}})
	}
	ps = append(ps, permission{name: "PING", grant: "+ping",
		cost:  "the keyspace subscription's health check fails it after every quiet 5 s, and in poll mode the poller takes Redis for unreachable",
		queue: func(ctx context.Context, p redis.Pipeliner) redis.Cmder { return p.Ping(ctx) }})
	if mode == stream.Poll || be.embedded {
		return ps
	}
	pattern := "__keyspace@" + strconv.Itoa(be.db) + "__:job:*"
	ps = append(ps, permission{name: "PSUBSCRIBE on " + pattern, grant: "&" + pattern + " +psubscribe", needed: true, subscribe: true,
		cost: "no keyspace notifications: the subscription is refused over and over and jobwait is not ready (waiters are polled meanwhile); grant it, or run JOBWAIT_NOTIFY=poll",
		try: func(ctx context.Context, c redis.UniversalClient) error {
			sub := c.PSubscribe(ctx, pattern)
			defer sub.Close()
			_, err := sub.Receive(ctx)
			return err
		}})
	ps = append(ps, permission{name: "PTTL on job:*", grant: "+pttl",
		cost:  "an expired job reaches its waiters at the next safety re-read (JOBWAIT_RESYNC) instead of within a tick (a PTTL is tried again each minute)",
		queue: func(ctx context.Context, p redis.Pipeliner) redis.Cmder { return p.PTTL(ctx, store.JobKey(probeJob)) }})
	if mode == stream.Auto {
		ps = append(ps,
			permission{name: "CONFIG GET notify-keyspace-events", grant: "+config|get", config: true,
				cost: "notify-keyspace-events cannot be read or set: JOBWAIT_NOTIFY=auto polls the watched jobs (one batched read per 250 ms); grant +config|get +config|set, or preset the flags (" + stream.NotifyFlags + ") and run JOBWAIT_NOTIFY=keyspace, which sends no CONFIG",
				queue: func(ctx context.Context, p redis.Pipeliner) redis.Cmder {
					return p.ConfigGet(ctx, "notify-keyspace-events")
				}},
			permission{name: "CONFIG SET notify-keyspace-events", grant: "+config|set", config: true,
				cost: "notify-keyspace-events cannot be set: JOBWAIT_NOTIFY=auto polls where the server lacks " + stream.NotifyFlags + ", and a node that loses it (restarted, or a replica promoted) is not given it again",
				try: func(ctx context.Context, c redis.UniversalClient) error {
					// What the hub sets anyway: the flags it needs added
					// to what is set. A cluster client might read one node
					// and set another: not tried there.
					if be.cluster {
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
	if be.cluster {
		ps = append(ps,
			permission{name: "CLUSTER SLOTS", grant: "+cluster|slots", needed: true,
				cost: "go-redis cannot learn which node holds which job: nothing can be read",
				try:  func(ctx context.Context, c redis.UniversalClient) error { return c.ClusterSlots(ctx).Err() }},
			permission{name: "CLUSTER SHARDS", grant: "+cluster|shards",
				cost: "masters are found with CLUSTER SLOTS instead, which misses a master without slots",
				try:  func(ctx context.Context, c redis.UniversalClient) error { return c.ClusterShards(ctx).Err() }},
			permission{name: "COMMAND", grant: "+command",
				cost: "go-redis cannot learn where each command's keys are, and routes by the first argument",
				try:  func(ctx context.Context, c redis.UniversalClient) error { return c.Command(ctx).Err() }})
	}
	return ps
}

// isAuthRefused tells a refusal of jobwait's credentials, as go-redis
// reports it when a connection's HELLO or AUTH is refused.
func isAuthRefused(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH")
}
