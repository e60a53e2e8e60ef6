package stream

import (
	"context"
	"time"
)

// happening is what a listener (a node's subscription, or the poller)
// tells the hub about how it learns of changes.
type happening int

const (
	confirmed  happening = iota + 1 // a subscription confirmed: every watched job is re-read
	lost                            // a subscription failed
	answered                        // a poll tick found Redis answering: every watched job is re-read
	unanswered                      // a poll tick found Redis not answering
	regrouped                       // the set of subscriptions changed
	stopped                         // the poller returned: no more news
)

// listened is the one place that records a listener's news: whether the
// hub listens (every current publisher's subscription confirmed, or the
// last poll answered), the re-reads it calls for, the counters and the log
// line. s is the subscription the news is of; nil for the poller's and a
// regrouping. A Watch after it sees the re-reads queued, so never trusts a
// state from before.
func (h *Hub[T]) listened(what happening, s *nodeSub, err error) {
	h.mu.Lock()
	was := h.listening
	var node string
	var current, wasLive, first bool // first: the first failure since it was confirmed
	if s != nil {
		node, current = s.name, h.publishing[s.name] == s
		wasLive, first = current && s.state == subLive, current && s.state != subDown
		if s.state = subDown; what == confirmed {
			s.state = subLive
		}
		if what == confirmed && !current {
			what = regrouped // a former publisher's: nothing to re-read
		}
	}
	switch what {
	case answered:
		h.listening = true
	case unanswered, stopped:
		h.listening = false
	default:
		h.listening = len(h.publishing) > 0
		for _, p := range h.publishing {
			h.listening = h.listening && p.state == subLive
		}
	}
	switch {
	case h.listening:
		h.down = ""
	case err != nil:
		h.down = err.Error()
	}
	h.refreshLocked()
	now := time.Now()
	// A refusal (NOPERM when an ACL drops the subscribe permission, a
	// renamed command) is logged whenever it changes: the operator must
	// mend it.
	refused := what == lost && isRefused(err) && err.Error() != h.refusal
	var say bool             // the news is logged (see flaps)
	var held int             // news of its kind not logged before it
	var lasted time.Duration // a loss logged late: how long it has lasted
	switch what {
	case confirmed:
		// Changes made while it was down were not published to us.
		h.refusal = ""
		h.stats.Resyncs++
		h.resyncLocked(now)
		say, held = h.flaps.live(now, node)
	case answered:
		h.resyncLocked(now)
	case lost:
		if refused {
			h.refusal = err.Error()
		}
		if wasLive {
			h.stats.Reconnects++
		}
		say, held, lasted = h.flaps.lost(now, node, first)
	}
	h.mu.Unlock()

	var attrs []any
	if node != "" {
		attrs = append(attrs, "node", node)
	}
	if held > 0 {
		attrs = append(attrs, "not_logged_since_last", held)
	}
	if lasted > 0 {
		attrs = append(attrs, "down_for", lasted.Round(time.Millisecond))
	}
	switch {
	case what == confirmed && say:
		h.log.Info("keyspace subscription live; watched jobs re-read", attrs...)
	case what == lost && (say || refused):
		// The error first: what failed is what the line is about.
		msg := "keyspace subscription lost; reconnecting"
		if !say {
			msg = "keyspace subscription refused; retrying"
		}
		h.log.Warn(msg, append([]any{"err", err}, attrs...)...)
	case what == answered && !was:
		h.log.Info("polling watched jobs", "interval", h.cfg.PollTick)
	case what == unanswered && was:
		h.log.Warn("redis unreachable in poll mode", "err", err)
	}
}

// poll, poll mode's listener, re-reads every watched job each tick until
// ctx ends. It pings Redis, so readiness says whether Redis answers even
// with no job watched.
func (h *Hub[T]) poll(ctx context.Context) {
	t := time.NewTicker(h.cfg.PollTick)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, h.cfg.RoundTripTimeout)
		err := h.cfg.Redis.Ping(pctx).Err()
		cancel()
		what := answered
		if err != nil {
			what = unanswered
		}
		h.listened(what, nil, err)
		select {
		case <-ctx.Done():
			h.listened(stopped, nil, nil) // no more polls: Watch must not trust the states held
			return
		case <-t.C:
		}
	}
}

const (
	// flapQuiet is the least time between two log lines of one kind
	// (subscription lost, live) while a subscription flaps.
	flapQuiet = 10 * time.Second
	// stillDown is how long a loss not logged may last before it is.
	stillDown = time.Second
)

// flaps decides which of the subscriptions' losses and confirmations are
// logged: the first of each kind, then at most one of each per flapQuiet,
// with the count of those not logged since. The log never ends on a wrong
// word: a confirmation is logged whenever the last line was a loss, and a
// loss not logged is logged once it has lasted stillDown.
type flaps struct {
	lostUntil, liveUntil time.Time            // no line of the kind before then
	lostHeld, liveHeld   int                  // not logged since the kind's last line
	saidDown             bool                 // the last line logged was a loss
	down                 map[string]time.Time // per node: since when a loss not logged lasts
}

// lost reports whether a failure of node's subscription at now (first: an
// outage's, not a retry's) is logged, how many losses were not logged
// before it, and, if logged late, how long it has lasted.
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
