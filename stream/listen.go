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

const (
	// flapQuiet is the least time between two log lines of one kind
	// (subscription lost, live) while a subscription flaps; the counters
	// still say every loss.
	flapQuiet = 10 * time.Second
	// stillDown is how long a loss not logged may last before it is.
	stillDown = time.Second
)

// flaps decides which of the subscriptions' losses and confirmations are
// logged: the first of each kind, then at most one of each per flapQuiet,
// with the count of those not logged since. The log never ends on a wrong
// word: a confirmation is logged whenever the last line was a loss, and a
// loss not logged is logged once it has lasted stillDown. Guarded by the
// hub's mu.
type flaps struct {
	lostUntil, liveUntil time.Time            // no line of the kind before then
	lostHeld, liveHeld   int                  // not logged since the kind's last line
	saidDown             bool                 // the last line logged was a loss
	down                 map[string]time.Time // per node: since when a loss not logged lasts
}

// lost reports whether a failure of node's subscription at now is logged,
// how many losses were not logged before it, and, if logged late, how
// long it has lasted. first says it begins an outage, not a retry.
func (f *flaps) lost(now time.Time, node string, first bool) (log bool, held int, lasted time.Duration) {
	since, holding := f.down[node]
	switch {
	case first && now.Before(f.lostUntil):
		f.lostHeld++
		if f.down == nil {
			f.down = map[string]time.Time{}
		}
		f.down[node] = now
		return false, 0, 0
	case first:
	case !holding || now.Sub(since) < stillDown:
		return false, 0, 0
	default:
		f.lostHeld-- // this line is that loss's
		lasted = now.Sub(since)
	}
	delete(f.down, node)
	held, f.lostHeld = f.lostHeld, 0
	f.lostUntil, f.saidDown = now.Add(flapQuiet), true
	return true, held, lasted
}

// live reports whether a confirmation of node's subscription at now is
// logged, and how many confirmations were not logged before it.
func (f *flaps) live(now time.Time, node string) (log bool, held int) {
	delete(f.down, node)
	if !f.saidDown && now.Before(f.liveUntil) {
		f.liveHeld++
		return false, 0
	}
	held, f.liveHeld = f.liveHeld, 0
	f.liveUntil, f.saidDown = now.Add(flapQuiet), false
	return true, held
}
