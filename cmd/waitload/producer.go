package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
)

// producerWorkers is how many Redis writes the producer has in flight: a
// single connection would cap the completion rate at one round trip pair
// per job.
const producerWorkers = 8

// producerCommands is what one store.Complete sends to Redis: the
// recommendation SET, then the job record SET.
const producerCommands = 2

// producer plays the AI service: it writes jobs through store, exactly as
// a real producer does, so jobwait sees nothing but ordinary Redis writes.
// Against Nchan it publishes each completion instead (nchan.go).
type producer struct {
	st jobWriter
	// commands is the Redis commands one completion sends: producerCommands
	// through store, none when the completion is published to Nchan.
	commands  int
	completed atomic.Int64
}

// jobWriter is where the producer writes jobs: *store.Store, or Nchan's
// publisher (nchan.go).
type jobWriter interface {
	Create(ctx context.Context, id, eventDraftID string) (store.Job, error)
	Start(ctx context.Context, j store.Job) (store.Job, error)
	Complete(ctx context.Context, j store.Job, r store.Result) (store.Job, error)
}

// create writes the mode's jobs and moves them to PROCESSING, before any
// waiter connects.
func (p *producer) create(ctx context.Context, ids []string) ([]store.Job, error) {
	jobs := make([]store.Job, len(ids))
	err := p.each(ctx, len(ids), nil, func(ctx context.Context, k int) error {
		j, err := p.st.Create(ctx, ids[k], ids[k]+"-draft")
		if err == nil {
			jobs[k], err = p.st.Start(ctx, j)
		}
		return err
	})
	return jobs, err
}

// completion is when one job was due to complete (its place in the
// schedule; unpaced, when its first write started), when its completing
// write started (later, after the result's write, and when every write in
// flight was still waiting for its server) and when it returned.
type completion struct {
	due, sent, done time.Time
}

// complete completes the jobs in order at rate per second (unpaced when
// rate ≤ 0) and returns, for each, when it was due and when its status
// write started and returned.
func (p *producer) complete(ctx context.Context, jobs []store.Job, rate float64) ([]completion, error) {
	out := make([]completion, len(jobs))
	start := time.Now()
	var at func(int) time.Time
	if rate > 0 {
		at = func(k int) time.Time { return start.Add(time.Duration(float64(k) / rate * float64(time.Second))) }
	}
	err := p.each(ctx, len(jobs), at, func(ctx context.Context, k int) error {
		out[k].due = time.Now()
		if at != nil {
			out[k].due = at(k)
		}
		if err := p.completeOne(ctx, jobs[k], &out[k]); err != nil {
			return err
		}
		p.completed.Add(1)
		return nil
	})
	return out, err
}

// twoWrites is a jobWriter whose completion is two writes, the result's,
// then the status's (jobwait's store).
type twoWrites interface {
	PutResult(ctx context.Context, j store.Job, r store.Result) error
	MarkCompleted(ctx context.Context, j store.Job) (store.Job, error)
}

// completeOne completes j, noting in c when its completing write started
// and returned: the status write, after the result's (which, like Nchan's
// publisher preparing its POST, is not the completion yet), or the one
// write that carries both.
func (p *producer) completeOne(ctx context.Context, j store.Job, c *completion) error {
	r := store.SampleResult(j.EventDraftID)
	var err error
	if tw, ok := p.st.(twoWrites); ok {
		if err = tw.PutResult(ctx, j, r); err == nil {
			c.sent = time.Now()
			_, err = tw.MarkCompleted(ctx, j)
		}
	} else {
		c.sent = time.Now()
		_, err = p.st.Complete(ctx, j, r)
	}
	if err == nil {
		c.done = time.Now()
	}
	return err
}

// each runs fn for 0..n-1 on producerWorkers goroutines, handing k out no
// earlier than at(k) unless at is nil; the first error stops the rest.
func (p *producer) each(ctx context.Context, n int, at func(int) time.Time, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ks := make(chan int)
	var wg sync.WaitGroup
	for range producerWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ks {
				if err := fn(ctx, k); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for k := range n {
		if at != nil && sleepUntil(ctx, at(k)) != nil {
			break
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

// warm opens the producer's pool connections before Redis is measured, so
// that their handshakes (HELLO, CLIENT SETINFO) are not counted as work:
// each connection is taken and pinged while the others are held.
func warm(ctx context.Context, urdb redis.UniversalClient) error {
	rdb, ok := urdb.(*redis.Client)
	if !ok {
		return urdb.(*redis.ClusterClient).ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
	}
	conns := make([]*redis.Conn, producerWorkers+2)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		conns[i] = rdb.Conn()
		if err := conns[i].Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	return nil
}
