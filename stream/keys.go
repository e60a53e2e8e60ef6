package stream

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys mode's connection to one node: the subscription set's channels of
// that node (subs.go), subscribed in batches, and their events.

// subscribeChunk is the most channels one SUBSCRIBE or UNSUBSCRIBE names.
const subscribeChunk = 1024

// openMark is the payload of the PING that ends a connection's opening:
// its answer comes after the confirmation of every channel of the opening.
const openMark = "jobwait-opened"

// anchorJob is the job whose first key's channel every connection of keys
// mode subscribes first, watched or not: the opening of a connection then
// always proves that Redis lets jobwait subscribe (an ACL that took
// SUBSCRIBE away is noticed with no job watched), at the cost of one
// channel per node.
const anchorJob = "jobwait-anchor"

// keysSession holds one connection ps to node n in keys mode until it
// fails: it subscribes, in its opening, the anchor and every channel of
// the set on n, then, from a goroutine of its own (send), what is wanted
// and no longer wanted there, while it receives the channels' events and
// replies. The answer to the opening's PING confirms the whole opening
// (confirmed: the node is live, and every watched job is re-read, as
// after any (re)subscription); a later confirmation of the last channel of
// a job reads that job.
func (h *Hub[T]) keysSession(ctx context.Context, n Node, ps Subscriber, b *backoff, confirmed func()) error {
	h.mu.Lock()
	nc := h.subs.node(n.Name)
	gen, opening := h.subs.open(nc)
	h.mu.Unlock()

	sctx, stop := context.WithCancel(ctx)
	var sendErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := h.send(sctx, ps, nc, gen, opening); err != nil && sctx.Err() == nil {
			sendErr = err
			ps.Close() // ends the receive below
		}
	})
	opened := false
	err := h.receive(ctx, ps, len(h.subs.prefix), func(msg any) {
		switch m := msg.(type) {
		case *redis.Subscription:
			h.channelReply(nc, gen, m.Kind, m.Channel, opened)
		case *redis.Pong:
			if !opened && m.Payload == openMark {
				opened = true
				b.reset()
				confirmed()
			}
		}
	})
	stop()
	wg.Wait()
	h.mu.Lock()
	h.subs.cut(nc, gen)
	h.mu.Unlock()
	if sendErr != nil {
		return sendErr
	}
	return err
}

// channelReply applies a subscription reply; a confirmation that makes a
// job's channels all live reads the job, unless it is part of the
// opening, whose end reads every watched job.
func (h *Hub[T]) channelReply(nc *nodeChannels, gen uint64, kind, name string, opened bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.subs.reply(nc, gen, kind, name)
	if id == "" || !opened {
		return
	}
	if e := h.jobs[id]; e != nil {
		h.queueLocked(e, asked, time.Time{})
	}
}

// send writes connection gen's opening (the anchor, the channels given,
// and the PING that closes it), then, until ctx ends, what the set queues
// on node nc: once woken, it waits Config.SubscribeWindow, so that the
// channels wanted meanwhile share the SUBSCRIBE, and unsubscribes the
// channels whose linger is over, a window after the first of them, so
// that those too share the UNSUBSCRIBE.
func (h *Hub[T]) send(ctx context.Context, ps Subscriber, nc *nodeChannels, gen uint64, opening []string) error {
	anchor := h.subs.prefix + h.cfg.Keys(anchorJob)[0]
	if err := inChunks(ctx, ps.Subscribe, append([]string{anchor}, opening...)); err != nil {
		return err
	}
	if err := ps.Ping(ctx, openMark); err != nil {
		return err
	}
	window, linger := stoppedTimer(), stoppedTimer()
	defer window.Stop()
	defer linger.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-linger.C:
		case <-nc.kick:
			window.Reset(h.cfg.SubscribeWindow)
			select {
			case <-ctx.Done():
				return nil
			case <-window.C:
			}
		}
		h.mu.Lock()
		subs, unsubs, next := h.subs.take(nc, gen, time.Now())
		h.mu.Unlock()
		if err := inChunks(ctx, ps.Subscribe, subs); err != nil {
			return err
		}
		if err := inChunks(ctx, ps.Unsubscribe, unsubs); err != nil {
			return err
		}
		if !next.IsZero() {
			// A window after the next linger ends: the lingers that end
			// within it share the UNSUBSCRIBE.
			linger.Reset(max(time.Until(next), 0) + h.cfg.SubscribeWindow)
		}
	}
}

// stoppedTimer returns a timer that is not running: Reset starts it.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// inChunks sends cmd for channels, subscribeChunk at a time.
func inChunks(ctx context.Context, cmd func(context.Context, ...string) error, channels []string) error {
	for len(channels) > 0 {
		n := min(len(channels), subscribeChunk)
		if err := cmd(ctx, channels[:n]...); err != nil {
			return err
		}
		channels = channels[n:]
	}
	return nil
}
