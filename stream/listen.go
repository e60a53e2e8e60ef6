package stream

import (
	"context"
	"time"
)

// news is what a listener (the subscriptions, or the poller) tells the hub
// about how it learns of changes.
type news struct {
	what happening
	// on: the hub learns of every change now: every current publisher's
	// subscription confirmed, or Redis answered the last poll.
	on   bool
	node string // the subscription's node; "" for the poller
	// For lost: was says the subscription had been confirmed (counted as a
	// reconnect), first that this is its first failure since (logged).
	was, first bool
	err        error
}

type happening int

const (
	confirmed  happening = iota + 1 // a subscription confirmed: every watched job is re-read
	lost                            // a subscription failed
	answered                        // a poll tick found Redis answering: every watched job is re-read
	unanswered                      // a poll tick found Redis not answering
	regrouped                       // the set of subscriptions changed
	stopped                         // the listener returned: no more news
)

// listened is the one place that records a listener's news: whether the
// hub listens, the re-reads it calls for, the counters and the log line.
// A Watch after it sees the re-reads queued, so never trusts a state from
// before.
func (h *Hub[T]) listened(n news) {
	h.mu.Lock()
	was := h.listening
	h.listening = n.on
	switch {
	case n.on:
		h.down = ""
	case n.err != nil:
		h.down = n.err.Error()
	}
	h.refreshLocked()
	now := time.Now()
	// A refusal (NOPERM when an ACL drops the subscribe permission, a
	// renamed command) is logged whenever it changes: the operator must
	// mend it.
	refused := n.what == lost && isRefused(n.err) && n.err.Error() != h.refusal
	var say bool             // the news is logged (see flaps)
	var held int             // news of its kind not logged before it
	var lasted time.Duration // a loss logged late: how long it has lasted
	switch n.what {
	case confirmed:
		// Changes made while it was down were not published to us.
		h.refusal = ""
		h.stats.Resyncs++
		h.resyncLocked(now)
		say, held = h.flaps.live(now, n.node)
	case answered:
		h.resyncLocked(now)
	case lost:
		if refused {
			h.refusal = n.err.Error()
		}
		if n.was {
			h.stats.Reconnects++
		}
		say, held, lasted = h.flaps.lost(now, n.node, n.first)
	}
	h.mu.Unlock()

	var attrs []any
	if n.node != "" {
		attrs = append(attrs, "node", n.node)
	}
	if held > 0 {
		attrs = append(attrs, "not_logged_since_last", held)
	}
	if lasted > 0 {
		attrs = append(attrs, "down_for", lasted.Round(time.Millisecond))
	}
	switch {
	case n.what == confirmed && say:
		h.log.Info("keyspace subscription live; watched jobs re-read", attrs...)
	case n.what == lost && (say || refused):
		// The error first: what failed is what the line is about.
		msg := "keyspace subscription lost; reconnecting"
		if !say {
			msg = "keyspace subscription refused; retrying"
		}
		h.log.Warn(msg, append([]any{"err", n.err}, attrs...)...)
	case n.what == answered && !was:
		h.log.Info("polling watched jobs", "interval", h.cfg.PollTick)
	case n.what == unanswered && was:
		h.log.Warn("redis unreachable in poll mode", "err", n.err)
	}
}

// poll, poll mode's listener, re-reads every watched job each tick until
// ctx ends. It pings Redis, so that readiness stays true to whether Redis
// answers even with no job watched.
func (h *Hub[T]) poll(ctx context.Context) {
	t := time.NewTicker(h.cfg.PollTick)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, h.cfg.RoundTripTimeout)
		err := h.cfg.Redis.Ping(pctx).Err()
		cancel()
		if err != nil {
			h.listened(news{what: unanswered, err: err})
		} else {
			h.listened(news{what: answered, on: true})
		}
		select {
		case <-ctx.Done():
			h.listened(news{what: stopped}) // no more polls: Watch must not trust the states held
			return
		case <-t.C:
		}
	}
}
