package stream

import (
	"context"
	"strings"
	"time"
)

// blindness is an episode in which the hub caught itself missing changes
// (see Missed notifications in doc.go). It ends when no evidence has come
// for a whole Resync and a notification was heard since the newest (or
// CONFIG GET found the classes): quiet alone proves nothing while
// notifications are off.
type blindness struct {
	on     bool
	reason string
	last   time.Time // the newest evidence
	heard  bool      // a notification came after last
}

// guard, in keyspace mode until ctx ends, re-reads every watched job whose
// last read is older than Resync, judges what those re-reads found, ends a
// blind episode, and learns the watched jobs' time to live. While the hub
// hears nothing it can trust it polls instead: every watched job each poll
// tick.
func (h *Hub[T]) guard(ctx context.Context) {
	t := time.NewTimer(h.guardEvery(time.Time{}))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.polls: // polling began: its first tick is a poll tick away
			t.Reset(h.guardEvery(time.Time{}))
			continue
		case <-t.C:
		}
		next, learn := h.guardOnce(time.Now())
		next = h.learnTTLs(ctx, learn, next)
		t.Reset(h.guardEvery(next))
	}
}

// guardEvery is the guard's tick: the poll tick while polling; else a
// tenth of Resync, so that a job is re-read within 1.1 Resync of its last
// read, or until next, when a watched job expires, if sooner.
func (h *Hub[T]) guardEvery(next time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollingLocked() {
		return h.cfg.PollTick
	}
	d := h.cfg.Resync / 10
	if !next.IsZero() {
		d = min(d, max(time.Until(next), time.Millisecond))
	}
	return d
}

// pollingLocked reports whether the guard polls: blind, or a subscription down.
func (h *Hub[T]) pollingLocked() bool { return h.blind.on || !h.listening }

// guardOnce runs one tick of the guard at now. It returns when the next
// watched job expires (zero: none), and the jobs whose time to live is to
// be learnt: those watched since the last tick or told of a new one (not
// while polling, whose reads make Redis expire what is due), and those
// whose time is up.
func (h *Hub[T]) guardOnce(now time.Time) (next time.Time, learn []*entry[T]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	unannounced := 0
	for id, at := range h.suspects {
		if now.Sub(at) >= h.cfg.ConfirmDelay {
			delete(h.suspects, id)
			unannounced++
		}
	}
	if unannounced > 0 {
		h.stats.Unannounced += uint64(unannounced)
		h.caughtBlindLocked(now, "a safety re-read found changes no notification announced", "jobs", unannounced)
	}
	if h.blind.on && h.blind.heard && now.Sub(h.blind.last) >= h.cfg.Resync {
		h.blind = blindness{}
		h.log.Info("notifications trusted again: one heard, and nothing missed for a whole resync interval", "resync", h.cfg.Resync)
		h.refreshLocked()
	}
	polling := h.pollingLocked()
	stale := h.cfg.Resync
	if polling {
		stale = 0
	}
	for _, e := range h.jobs {
		if !e.expires.IsZero() && !now.Before(e.expires) {
			// Looking its time to live up makes Redis expire the key.
			e.expires, e.newTTL = time.Time{}, true
		}
		if e.newTTL && !polling && h.cfg.TTLs != nil && !e.readAt.IsZero() {
			e.newTTL = false
			learn = append(learn, e)
		}
		next = sooner(next, e, now)
		if e.state != idle || e.readAt.IsZero() || now.Sub(e.readAt) < stale || !e.doubtFrom.IsZero() {
			continue
		}
		h.moveLocked(e, swept)
		h.stats.SafetyReads++
	}
	return next, learn
}

// caughtBlindLocked records evidence of missed changes; an episode's first
// is logged with its reason.
func (h *Hub[T]) caughtBlindLocked(now time.Time, reason string, attrs ...any) {
	h.blind.last, h.blind.heard = now, false
	if h.blind.on {
		return
	}
	h.blind.on, h.blind.reason = true, reason
	h.stats.BlindEpisodes++
	h.log.Warn("notifications missed: re-reading watched jobs every poll interval until none is missed for a resync interval",
		append([]any{"reason", reason, "poll_interval", h.cfg.PollTick, "resync", h.cfg.Resync}, attrs...)...)
	h.refreshLocked()
}

// guardFlags checks node n's notify-keyspace-events twice per Resync until
// ctx ends, or until CONFIG is refused: another client may switch
// notifications off at runtime, which leaves the subscription up and
// silent. Lacking classes are added back, the hub is blind, and every
// watched job is re-read.
func (h *Hub[T]) guardFlags(ctx context.Context, n Node) {
	t := time.NewTicker(max(h.cfg.Resync/2, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, h.cfg.RoundTripTimeout)
		have, lacked, err := restoreFlags(cctx, n.Client)
		cancel()
		if !lacked && isRefused(err) {
			h.log.Debug("CONFIG refused: notify-keyspace-events not watched; the safety re-read bounds what is missed", "node", n.Name, "err", err)
			return
		}
		h.mu.Lock()
		switch {
		case !lacked && err == nil:
			h.blind.heard = true // the classes are there: as good as a notification
		case lacked:
			if strings.TrimSpace(have) == "" {
				have = `""` // shown so in the log
			}
			now := time.Now()
			h.caughtBlindLocked(now, "notify-keyspace-events lacks classes jobwait needs",
				"node", n.Name, "have", have, "need", NotifyFlags, "restored", err == nil, "err", err)
			if err == nil {
				// Changes made while the classes were missing were not published.
				h.stats.Resyncs++
				h.resyncLocked(now)
			}
		}
		h.mu.Unlock()
	}
}

// learnTTLs learns the time to live of es in batches and returns next made
// sooner by what it learnt. A job found gone is read. A job told of a new
// time to live meanwhile is looked up again at the next tick, as are all
// left once a lookup fails: a Redis that does not answer holds the guard
// for one round trip timeout, not one per batch.
func (h *Hub[T]) learnTTLs(ctx context.Context, es []*entry[T], next time.Time) time.Time {
	for len(es) > 0 {
		batch := es[:min(len(es), h.cfg.Batch)]
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.id
		}
		tctx, cancel := context.WithTimeout(ctx, h.cfg.RoundTripTimeout)
		ttls, err := h.cfg.TTLs(tctx, ids)
		cancel()
		h.mu.Lock()
		now := time.Now()
		if err != nil || len(ttls) != len(ids) {
			for _, e := range es {
				e.newTTL = true
			}
			h.mu.Unlock()
			return next
		}
		es = es[len(batch):]
		for i, e := range batch {
			switch {
			case h.jobs[e.id] != e || e.newTTL:
			case ttls[i] < 0:
				e.expires = time.Time{}
				h.queueLocked(e, asked, time.Time{})
			case ttls[i] > 0:
				e.expires = now.Add(ttls[i])
				next = sooner(next, e, now)
			default:
				e.expires = time.Time{}
			}
		}
		h.mu.Unlock()
	}
	return next
}

// sooner returns the earlier of next and e's expiry, if e expires after
// now; zero times are none.
func sooner[T any](next time.Time, e *entry[T], now time.Time) time.Time {
	if e.expires.After(now) && (next.IsZero() || !next.Before(e.expires)) {
		return e.expires
	}
	return next
}
