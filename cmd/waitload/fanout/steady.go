package fanout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/producer"
)

// idleOver is how long the idle CPU is measured before the writes.
const idleOver = 3 * time.Second

// replySize is a SET's answer, +OK\r\n, that the writer reads.
const replySize = 5

// steady writes Rate job records a second for Duration, every
// 1/Watched-th the completion of a job with a stream, the rest new jobs
// nobody waits for (one SET … EX each), and measures what the writes cost
// Redis and the replicas (their idle CPU taken off) and the watched jobs'
// latency.
func (r *runner) steady(ctx context.Context, res *Result) error {
	cfg := r.cfg
	n := int(cfg.Rate * cfg.Duration.Seconds())
	watchedAt := make([]int, n) // write i completes job watchedAt[i]-1; 0: none
	m := 0
	for i := range n {
		if int(float64(i+1)*cfg.Watched) > int(float64(i)*cfg.Watched) {
			m++
			watchedAt[i] = m
		}
	}
	res.Writes, res.Waits, res.Watched = n, m, cfg.Watched
	jobs, ss, err := r.watch(ctx, m, "w")
	if err != nil {
		return err
	}
	redisIdle, replicasIdle, err := r.idleCPU(ctx)
	if err != nil {
		return err
	}
	before, infoSize, err := r.read(ctx, false)
	if err != nil {
		return err
	}
	returned := make([]time.Time, m)
	pace(ctx, cfg.Rate, n, producer.Workers, func(i int) {
		if w := watchedAt[i]; w > 0 {
			returned[w-1] = r.complete(ctx, jobs[w-1])
			return
		}
		_, _ = r.st.Create(ctx, fmt.Sprintf("%su-%d", r.prefix, i), fmt.Sprintf("%sdraft-u-%d", r.prefix, i))
	})
	_ = waitAll(ctx, ss, 30*time.Second, false)
	if err := r.settle(ctx); err != nil {
		return err
	}
	after, _, err := r.read(ctx, true)
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

// reading is what Redis and the replicas have spent and sent, at one moment.
type reading struct {
	at       time.Time
	pubsub   probe.PubSub
	output   int64         // total_net_output_bytes
	redisCPU time.Duration // Redis's user + system
	replicas time.Duration // the replicas' threads' run time
}

// read reads everything; Redis's output last before a window (a reading's
// own answers are then before it) and first after one (they are then after
// it), so that the window's output holds one INFO answer of its own, which
// infoSize measures and the caller takes off.
func (r *runner) read(ctx context.Context, outputFirst bool) (rd reading, infoSize int64, err error) {
	if outputFirst {
		if rd.output, err = probe.NetOutput(ctx, r.rdb); err != nil {
			return rd, 0, err
		}
	}
	rd.at = time.Now()
	if rd.pubsub, err = probe.ReadPubSub(ctx, r.rdb); err != nil {
		return rd, 0, err
	}
	if rd.redisCPU, rd.replicas, err = r.cpu(ctx); err != nil || outputFirst {
		return rd, 0, err // after a window, the output was read first
	}
	b0, err := probe.NetOutput(ctx, r.rdb)
	if err != nil {
		return rd, 0, err
	}
	rd.output, err = probe.NetOutput(ctx, r.rdb)
	return rd, rd.output - b0, err
}

// cpu is the CPU time Redis and the replicas have used.
func (r *runner) cpu(ctx context.Context) (redis, replicas time.Duration, err error) {
	if redis, err = probe.RedisCPU(ctx, r.rdb); err != nil {
		return 0, 0, err
	}
	replicas, err = probe.ThreadsCPU(r.cfg.Pids)
	return redis, replicas, err
}

// idleCPU is the CPU Redis and the replicas spend a second with nothing
// written: timers, the safety re-read, the health checks.
func (r *runner) idleCPU(ctx context.Context) (redisPerSec, replicasPerSec time.Duration, err error) {
	r0, p0, err := r.cpu(ctx)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-time.After(idleOver):
	}
	r1, p1, err := r.cpu(ctx)
	if err != nil {
		return 0, 0, err
	}
	secs := time.Since(start).Seconds()
	return time.Duration(float64(r1-r0) / secs), time.Duration(float64(p1-p0) / secs), nil
}

// settle waits until the replicas' notification counters have not moved
// for 300 ms (they have handled every event Redis sent), at most 30 s.
func (r *runner) settle(ctx context.Context) error {
	last, still := -1.0, time.Now()
	err := poll(ctx, 20*time.Millisecond, 30*time.Second, func() (bool, error) {
		n, err := r.sum(ctx, "jobwait_hub_notifications_total")
		if n != last {
			last, still = n, time.Now()
		}
		return time.Since(still) >= 300*time.Millisecond, err
	})
	if errors.Is(err, errStill) {
		return errors.New("replicas still handling events after 30s")
	}
	return err
}
