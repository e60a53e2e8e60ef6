package stream

import (
	"context"
	"time"
)

// Keyspace events by what they tell of a key's time to live.
var (
	// ttlEvents change the time to live and leave the value: nothing is read.
	ttlEvents = map[string]bool{"expire": true, "persist": true}
	// newKeyEvents put another value, with its own time to live, in the
	// key's place: the job is read too.
	newKeyEvents = map[string]bool{"restore": true, "rename_to": true, "copy_to": true, "move_to": true}
)

// event handles keyspace event ev of key, learnt at time at.
func (h *Hub[T]) event(key, ev string, at time.Time) {
	if !ttlEvents[ev] {
		h.notify(key, at)
	}
	if !ttlEvents[ev] && !newKeyEvents[ev] {
		return
	}
	id, ok := h.cfg.JobID(key)
	if !ok {
		return
	}
	h.mu.Lock()
	if e := h.jobs[id]; e != nil {
		e.newTTL = true
	}
	h.mu.Unlock()
}

// learnTTLs learns the time to live of es in batches of Config.Batch and
// returns next made sooner by what it learnt. A job found gone is read. A
// job told of a new time to live meanwhile is looked up again at the next
// tick, as are all that are left once a lookup fails: a Redis that does not
// answer holds the guard for one round trip timeout, not one per batch.
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
	if e.expires.IsZero() || !e.expires.After(now) || (!next.IsZero() && next.Before(e.expires)) {
		return next
	}
	return e.expires
}
