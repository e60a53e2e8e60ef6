package stream

import (
	"context"
	"time"
)

// subscribeChunk is the most channels one SUBSCRIBE or UNSUBSCRIBE names.
const subscribeChunk = 1024

// anchorJob is the job whose first key's channel every keys mode
// connection subscribes first, so that an ACL that took SUBSCRIBE away is
// noticed with no job watched.
const anchorJob = "jobwait-anchor"

// channelReply applies a subscription reply; one that confirms a job's
// last channel reads the job, unless in the opening (which reads all).
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

// send writes connection gen's opening (the pattern, or the anchor and the
// channels given; then the PING), then, in keys mode until ctx ends, what
// the set queues on nc: once woken it waits SubscribeWindow so that the
// channels wanted meanwhile share one SUBSCRIBE, and unsubscribes lingers
// a window after the first ends, so that those share one UNSUBSCRIBE too.
func (h *Hub[T]) send(ctx context.Context, ps Subscriber, nc *nodeChannels, gen uint64, opening []string) error {
	var err error
	if nc == nil {
		err = ps.PSubscribe(ctx, channelPrefix(h.cfg.DB)+h.cfg.Pattern)
	} else {
		anchor := h.subs.prefix + h.cfg.Keys(anchorJob)[0]
		err = inChunks(ctx, ps.Subscribe, append([]string{anchor}, opening...))
	}
	if err == nil {
		err = ps.Ping(ctx, openMark)
	}
	if err != nil || nc == nil {
		return err
	}
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-linger.C:
		case <-nc.kick:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(h.cfg.SubscribeWindow):
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
			linger.Reset(max(time.Until(next), 0) + h.cfg.SubscribeWindow)
		}
	}
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
