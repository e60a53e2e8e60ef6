package main

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/stream"
)

// probeJob is the job id whose keys the permission check reads: no
// producer writes it, so reading it changes nothing.
const probeJob = "jobwait-acl-probe"

// permission is one thing jobwait asks of Redis, a harmless way to try it,
// and what jobwait does without it.
type permission struct {
	name string // as an operator grants it
	cost string
	try  func(ctx context.Context, c redis.UniversalClient) error
}

// permissions lists what jobwait needs of Redis under notify mode mode on
// be, in the order of README's ACL SETUSER line.
func permissions(be *backend, mode stream.Mode) []permission {
	get := func(key string) func(ctx context.Context, c redis.UniversalClient) error {
		return func(ctx context.Context, c redis.UniversalClient) error { return c.Get(ctx, key).Err() }
	}
	ps := []permission{
		{"GET on job:*", "no job can be read: every request is answered SVC_002", get(store.JobKey(probeJob))},
		{"HGETALL on job:*", "jobs written as hashes cannot be read: they are answered JOB_003",
			func(ctx context.Context, c redis.UniversalClient) error {
				return c.HGetAll(ctx, store.JobKey(probeJob)).Err()
			}},
		{"GET on job:*:error", "a FAILED job's message cannot be read: FAILED jobs are answered JOB_003", get(store.ErrorKey(probeJob))},
		{"GET on ai:recommendation:*", "no result can be read: COMPLETED jobs are answered JOB_003", get(store.ResultKey("jobwait-acl-probe"))},
		{"PING", "/readyz says Redis is down, and the subscription's health check fails it every few seconds",
			func(ctx context.Context, c redis.UniversalClient) error { return c.Ping(ctx).Err() }},
	}
	if mode != stream.Poll && !be.embedded {
		pattern := "__keyspace@" + strconv.Itoa(be.db) + "__:job:*"
		ps = append(ps, permission{"PSUBSCRIBE on " + pattern,
			"no keyspace notifications: the subscription fails over and over and jobwait is never ready; grant it, or run JOBWAIT_NOTIFY=poll",
			func(ctx context.Context, c redis.UniversalClient) error {
				sub := c.PSubscribe(ctx, pattern)
				defer sub.Close()
				_, err := sub.Receive(ctx)
				return err
			}})
		cost := "notify-keyspace-events cannot be read or set: JOBWAIT_NOTIFY=auto polls the watched jobs (one batched read per 250 ms); JOBWAIT_NOTIFY=keyspace trusts the server's setting to include " + stream.NotifyFlags
		ps = append(ps,
			permission{"CONFIG GET notify-keyspace-events", cost,
				func(ctx context.Context, c redis.UniversalClient) error {
					return c.ConfigGet(ctx, "notify-keyspace-events").Err()
				}},
			permission{"CONFIG SET notify-keyspace-events", "notify-keyspace-events cannot be set: JOBWAIT_NOTIFY=auto polls where the server lacks " + stream.NotifyFlags + ", and a node that loses it (restarted, or a replica promoted) is not given it again",
				func(ctx context.Context, c redis.UniversalClient) error {
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
			permission{"CLUSTER SLOTS", "go-redis cannot learn which node holds which job: nothing can be read",
				func(ctx context.Context, c redis.UniversalClient) error { return c.ClusterSlots(ctx).Err() }},
			permission{"CLUSTER SHARDS", "masters are found with CLUSTER SLOTS instead, which misses a master without slots",
				func(ctx context.Context, c redis.UniversalClient) error { return c.ClusterShards(ctx).Err() }})
	}
	return ps
}

// isNoPerm tells an ACL refusal.
func isNoPerm(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOPERM")
}

// checkPermissions tries each permission jobwait needs once Redis answers,
// logs each one refused with what it costs, and stores their names in
// missing, for /readyz. It returns when every permission has been tried or
// ctx ends.
func checkPermissions(ctx context.Context, be *backend, mode stream.Mode, missing *atomic.Pointer[[]string], log *slog.Logger) {
	b := time.Second
	for _, p := range permissions(be, mode) {
		for {
			tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := p.try(tctx, be.client)
			cancel()
			if err == nil || errors.Is(err, redis.Nil) {
				break
			}
			if isNoPerm(err) {
				log.Warn("redis permission missing", "permission", p.name, "cost", p.cost, "err", err)
				m := append(append([]string(nil), deref(missing.Load())...), p.name+": "+p.cost)
				missing.Store(&m)
				break
			}
			var rerr redis.Error
			if errors.As(err, &rerr) && isAuthRefused(rerr) {
				log.Error("redis refuses jobwait's credentials: check the user and password in REDIS_URL", "err", err)
				return
			}
			if errors.As(err, &rerr) { // refused otherwise (renamed command, WRONGTYPE): not ours to judge
				break
			}
			select { // Redis unreachable: try again when it may answer
			case <-ctx.Done():
				return
			case <-time.After(b):
			}
		}
	}
}

// isAuthRefused tells a refusal of jobwait's credentials.
func isAuthRefused(err redis.Error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOAUTH")
}

func deref(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}
