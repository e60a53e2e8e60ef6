package stream

import "time"

// news is what a listener (the subscriptions, or the poller) tells the hub
// about how it learns of changes.
type news struct {
	what happening
	// on: the hub learns of every change now: every current publisher's
	// subscription confirmed, or Redis answered the last poll.
	on   bool
	node string // the subscription's node; "" for the poller
	// For lost: was says the subscription had been confirmed (counted as
	// a reconnect), first that this is its first failure since then or
	// since it started (logged).
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
// hub listens (Ready, and with blindness whether its states are fresh),
// the re-read of every watched job the news calls for, the counters and
// the log line. A Watch that comes after it sees the re-reads queued, so
// it never trusts a state from before.
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
	// A refusal (NOPERM when an ACL drops the subscribe permission, a
	// renamed command) is logged whenever it changes, not only on the
	// first failure: it is what the operator must mend.
	refused := n.what == lost && isRefused(n.err) && n.err.Error() != h.refusal
	switch {
	case refused:
		h.refusal = n.err.Error()
	case n.what == confirmed:
		h.refusal = ""
	}
	now := time.Now()
	if n.what == confirmed || n.what == answered {
		h.resyncLocked(now)
	}
	var say bool             // the news is logged (see flaps)
	var held int             // news of its kind not logged before it
	var lasted time.Duration // a loss logged late: how long it has lasted
	switch n.what {
	case confirmed:
		say, held = h.flaps.live(now, n.node)
	case lost:
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
	switch n.what {
	case confirmed:
		// Changes made while it was down were not published to us.
		h.stats.resyncs.Add(1)
		if say {
			h.log.Info("keyspace subscription live; watched jobs re-read", attrs...)
		}
	case lost:
		if n.was {
			h.stats.reconnects.Add(1)
		}
		// The error first: what failed is what the line is about.
		attrs = append([]any{"err", n.err}, attrs...)
		switch {
		case say:
			h.log.Warn("keyspace subscription lost; reconnecting", attrs...)
		case refused:
			h.log.Warn("keyspace subscription refused; retrying", attrs...)
		}
	case answered:
		if !was {
			h.log.Info("polling watched jobs", "interval", h.cfg.PollTick)
		}
	case unanswered:
		if was {
			h.log.Warn("redis unreachable in poll mode", "err", n.err)
		}
	}
}

// isListening reports whether the hub learns of every change.
func (h *Hub[T]) isListening() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listening
}
