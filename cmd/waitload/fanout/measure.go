package fanout

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/cmd/waitload/probe"
)

// reading is what Redis and the replicas have spent and sent, at one
// moment.
type reading struct {
	at       time.Time
	pubsub   probe.PubSub
	output   int64         // total_net_output_bytes
	redisCPU time.Duration // Redis's user + system
	replicas time.Duration // the replicas' threads' run time
	cmds     probe.CmdStats
}

// readAll reads everything; Redis's output last before a window (a
// reading's own answers are then before it) and first after one (they are
// then after it), so that the window's output holds one INFO answer of
// its own, which infoSize measures and the caller takes off.
func readAll(ctx context.Context, rdb *redis.Client, pids []int, outputFirst bool) (r reading, infoSize int64, err error) {
	if outputFirst {
		if r.output, err = probe.NetOutput(ctx, rdb); err != nil {
			return r, 0, err
		}
	}
	r.at = time.Now()
	if r.pubsub, err = probe.ReadPubSub(ctx, rdb); err != nil {
		return r, 0, err
	}
	if r.redisCPU, err = probe.RedisCPU(ctx, rdb); err != nil {
		return r, 0, err
	}
	if r.replicas, err = probe.ThreadsCPU(pids); err != nil {
		return r, 0, err
	}
	if r.cmds, err = probe.ReadCmdStats(ctx, rdb); err != nil {
		return r, 0, err
	}
	if !outputFirst {
		b0, err := probe.NetOutput(ctx, rdb)
		if err != nil {
			return r, 0, err
		}
		if r.output, err = probe.NetOutput(ctx, rdb); err != nil {
			return r, 0, err
		}
		infoSize = r.output - b0
	}
	return r, infoSize, nil
}

// idleCPU is the CPU Redis and the replicas spend a second with nothing
// written: timers, the safety re-read, the health checks.
func idleCPU(ctx context.Context, rdb *redis.Client, pids []int, over time.Duration) (redisPerSec, replicasPerSec time.Duration, err error) {
	r0, err := probe.RedisCPU(ctx, rdb)
	if err != nil {
		return 0, 0, err
	}
	p0, err := probe.ThreadsCPU(pids)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-time.After(over):
	}
	r1, err := probe.RedisCPU(ctx, rdb)
	if err != nil {
		return 0, 0, err
	}
	p1, err := probe.ThreadsCPU(pids)
	if err != nil {
		return 0, 0, err
	}
	secs := time.Since(start).Seconds()
	return time.Duration(float64(r1-r0) / secs), time.Duration(float64(p1-p0) / secs), nil
}

// settle waits until the replicas' notification counters have not moved
// for quiet (they have handled every event Redis sent), at most within.
func settle(ctx context.Context, j *jobwaits, quiet, within time.Duration) error {
	deadline := time.Now().Add(within)
	last, still := -1.0, time.Now()
	for time.Now().Before(deadline) {
		n, err := j.sum(ctx, "jobwait_hub_notifications_total")
		if err != nil {
			return err
		}
		if n != last {
			last, still = n, time.Now()
		} else if time.Since(still) >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("replicas still handling events after %v", within)
}
