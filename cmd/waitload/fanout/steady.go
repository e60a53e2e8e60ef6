package fanout

import (
	"context"
	"fmt"
	"time"
)

// idleOver is how long the idle CPU is measured before the writes.
const idleOver = 3 * time.Second

// replySize is a SET's answer, +OK\r\n, that the writer reads.
const replySize = 5

// steady writes Rate job records a second for Duration, the share Watched
// of them completions of jobs with a stream each (every 1/Watched-th
// write), the rest new jobs nobody waits for (one SET … EX each, as a
// producer writes), and measures what the writes cost.
func (r *runner) steady(ctx context.Context, res *Result) error {
	cfg := r.cfg
	n := int(cfg.Rate * cfg.Duration.Seconds())
	isWatched := func(i int) bool { return int(float64(i+1)*cfg.Watched) > int(float64(i)*cfg.Watched) }
	m := 0
	for i := range n {
		if isWatched(i) {
			m++
		}
	}
	res.Writes, res.Waits, res.Watched = n, m, cfg.Watched
	jobs, ss, err := r.watch(ctx, m, "w")
	if err != nil {
		return err
	}
	redisIdle, replicasIdle, err := idleCPU(ctx, r.rdb, cfg.Pids, idleOver)
	if err != nil {
		return err
	}
	before, infoSize, err := readAll(ctx, r.rdb, cfg.Pids, false)
	if err != nil {
		return err
	}
	returned := make([]time.Time, m)
	watchedAt := make([]int, n) // write i completes job watchedAt[i]-1; 0: none
	k := 0
	for i := range n {
		if isWatched(i) {
			k++
			watchedAt[i] = k
		}
	}
	pace(ctx, cfg.Rate, n, writers, func(i int) {
		if w := watchedAt[i]; w > 0 {
			returned[w-1] = r.complete(ctx, jobs[w-1])
			return
		}
		_, _ = r.st.Create(ctx, fmt.Sprintf("%su-%d", r.prefix, i), fmt.Sprintf("%sdraft-u-%d", r.prefix, i))
	})
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_ = waitAll(dctx, ss, doneOf)
	cancel()
	if err := settle(ctx, r.jobwaits, 300*time.Millisecond, 30*time.Second); err != nil {
		return err
	}
	after, _, err := readAll(ctx, r.rdb, cfg.Pids, true)
	if err != nil {
		return err
	}
	res.collect(ss, returned)
	window := after.at.Sub(before.at)
	writes := float64(n)
	if after.pubsub.Clients != before.pubsub.Clients {
		res.Errors = append(res.Errors, fmt.Sprintf("subscription connections %d, then %d: pub/sub bytes not comparable", before.pubsub.Clients, after.pubsub.Clients))
	}
	res.SubscribedConn = after.pubsub.Clients
	res.PubSubBytes = float64(after.pubsub.Sent-before.pubsub.Sent) / writes
	replies := int64(n+m) * replySize // a SET a write, and a completion's result SET
	res.OutputBytes = float64(after.output-before.output-infoSize-replies) / writes
	res.RedisCPU = perWrite(after.redisCPU-before.redisCPU, redisIdle, window, writes)
	res.ReplicasCPU = perWrite(after.replicas-before.replicas, replicasIdle, window, writes)
	return nil
}

// perWrite is spent, less idle a second over window, per write, in µs.
func perWrite(spent, idle time.Duration, window time.Duration, writes float64) float64 {
	net := spent - time.Duration(float64(idle)*window.Seconds())
	return float64(net.Microseconds()) / writes
}
