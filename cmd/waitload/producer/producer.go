package producer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/store/redisconn"
)

// Workers is how many writes the producer has in flight: a single
// connection would cap the completion rate at one round trip pair per job.
const Workers = 8

// StoreCommands is what one store.Complete sends to Redis: the
// recommendation SET, then the job record SET.
const StoreCommands = 2

// Producer writes a mode's jobs and completes them.
type Producer struct {
	w         Writer
	commands  int // Redis commands per completion: StoreCommands, or 0 published to Nchan
	completed atomic.Int64
}

// New is a producer writing through w, each completion sending commands
// Redis commands of its own.
func New(w Writer, commands int) *Producer { return &Producer{w: w, commands: commands} }

// Commands is the Redis commands one completion sends.
func (p *Producer) Commands() int { return p.commands }

// Completed is how many jobs have been completed since the last Create.
func (p *Producer) Completed() int { return int(p.completed.Load()) }

// Writer is where the producer writes jobs: *store.Store, or Nchan's publisher.
type Writer interface {
	Create(ctx context.Context, id, eventDraftID string) (store.Job, error)
	Start(ctx context.Context, j store.Job) (store.Job, error)
	Complete(ctx context.Context, j store.Job, r store.Result) (store.Job, error)
}

// Create writes the mode's jobs and moves them to PROCESSING, before any
// waiter connects.
func (p *Producer) Create(ctx context.Context, ids []string) ([]store.Job, error) {
	p.completed.Store(0)
	jobs := make([]store.Job, len(ids))
	err := each(ctx, len(ids), nil, func(ctx context.Context, k int) error {
		j, err := p.w.Create(ctx, ids[k], ids[k]+"-draft")
		if err == nil {
			jobs[k], err = p.w.Start(ctx, j)
		}
		return err
	})
	return jobs, err
}

// Completion is when one job was due to complete (its place in the
// schedule; unpaced, when its first write started), when its completing
// write started (later: after the result's write, and after any wait while
// every worker's write was in flight) and when it returned (zero if not).
type Completion struct {
	Due, Sent, Done time.Time
}

// twoWrites is a Writer whose completion is two writes, the result's, then
// the status's, which alone is the completion (jobwait's store).
type twoWrites interface {
	PutResult(ctx context.Context, j store.Job, r store.Result) error
	MarkCompleted(ctx context.Context, j store.Job) (store.Job, error)
}

// Complete completes the jobs in order at rate per second (unpaced when
// rate ≤ 0) and returns, for each, when it was due and when its status
// write started and returned.
func (p *Producer) Complete(ctx context.Context, jobs []store.Job, rate float64) ([]Completion, error) {
	out := make([]Completion, len(jobs))
	start := time.Now()
	var at func(int) time.Time
	if rate > 0 {
		at = func(k int) time.Time { return start.Add(time.Duration(float64(k) / rate * float64(time.Second))) }
	}
	err := each(ctx, len(jobs), at, func(ctx context.Context, k int) error {
		c, j := &out[k], jobs[k]
		c.Due = time.Now()
		if at != nil {
			c.Due = at(k)
		}
		r := store.SampleResult(j.EventDraftID)
		var err error
		if tw, ok := p.w.(twoWrites); ok {
			if err = tw.PutResult(ctx, j, r); err == nil {
				c.Sent = time.Now()
				_, err = tw.MarkCompleted(ctx, j)
			}
		} else {
			c.Sent = time.Now()
			_, err = p.w.Complete(ctx, j, r)
		}
		if err == nil {
			c.Done = time.Now()
			p.completed.Add(1)
		}
		return err
	})
	return out, err
}

// each runs fn for 0..n-1 on Workers goroutines, handing k out no earlier
// than at(k) unless at is nil; the first error stops the rest.
func each(ctx context.Context, n int, at func(int) time.Time, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ks := make(chan int)
	var wg sync.WaitGroup
	for range Workers {
		wg.Go(func() {
			for k := range ks {
				if err := fn(ctx, k); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for k := range n {
		if at != nil {
			select {
			case <-time.After(time.Until(at(k))):
			case <-ctx.Done():
				break feed
			}
		}
		select {
		case ks <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(ks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return nil
}

// Warm opens the producer's pool connections on every master before Redis
// is measured, so that their handshakes (HELLO, CLIENT SETINFO) are not
// counted as work.
func Warm(ctx context.Context, urdb redis.UniversalClient) error {
	return redisconn.EachMaster(ctx, urdb, func(ctx context.Context, rdb *redis.Client) error {
		for range Workers + 2 {
			c := rdb.Conn()
			defer c.Close() // held, so that the next one is a new connection
			if err := c.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("redis: %w", err)
			}
		}
		return nil
	})
}
