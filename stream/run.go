package stream

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Mode is how the hub learns of changes.
type Mode string

// The notify modes of JOBWAIT_NOTIFY.
const (
	Auto     Mode = "auto"
	Keyspace Mode = "keyspace"
	Poll     Mode = "poll"
)

// Subscribe is what the hub subscribes to in keyspace mode.
type Subscribe string

// The subscriptions of JOBWAIT_SUBSCRIBE.
const (
	// SubscribeKeys subscribes to the channels of the watched jobs' keys
	// only, each on the master that publishes it: Redis sends a replica
	// the events of the jobs it waits for, and no others.
	SubscribeKeys Subscribe = "keys"
	// SubscribePattern subscribes to every job key's channel with one
	// pattern per master: every replica is sent every job's events.
	SubscribePattern Subscribe = "pattern"
)

// DefaultSubscribe is Config.Subscribe's zero value.
const DefaultSubscribe = SubscribeKeys

// ParseSubscribe reads a subscription; the empty string is DefaultSubscribe.
func ParseSubscribe(s string) (Subscribe, error) {
	return parseOneOf(s, DefaultSubscribe, "subscription %q: want keys or pattern", SubscribeKeys, SubscribePattern)
}

// ParseMode reads a notify mode; the empty string is Auto.
func ParseMode(s string) (Mode, error) {
	return parseOneOf(s, Auto, "notify mode %q: want keyspace, poll or auto", Auto, Keyspace, Poll)
}

// parseOneOf reads one of the values allowed; the empty string is def, and
// anything else an error of format bad.
func parseOneOf[V ~string](s string, def V, bad string, allowed ...V) (V, error) {
	switch {
	case s == "":
		return def, nil
	case slices.Contains(allowed, V(s)):
		return V(s), nil
	}
	return "", fmt.Errorf(bad, s)
}

// Mode returns how the hub learns of changes: Keyspace or Poll once chosen,
// "" before.
func (h *Hub[T]) Mode() Mode {
	m, _ := h.mode.Load().(Mode)
	return m
}

// Ready reports whether the hub learns of every change: subscribed in
// keyspace mode, Redis answering in poll mode.
func (h *Hub[T]) Ready() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Mode() != "" && h.listening
}

// Run runs the hub until ctx ends: it chooses the notify mode (waiting for
// Redis if it is not there yet), then runs the readers and either the
// listener and the guard or the poller. It returns once all have returned.
func (h *Hub[T]) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return fmt.Errorf("hub already running")
	}
	defer close(h.done)

	var wg sync.WaitGroup
	defer wg.Wait()
	h.startReaders(ctx, &wg)
	mode, ok := h.chooseMode(ctx)
	if !ok {
		return nil // ctx ended before Redis appeared
	}
	h.mode.Store(mode)
	if mode == Poll {
		h.mu.Lock()
		h.subs = nil // nothing is subscribed: every state read is trusted as polled
		h.mu.Unlock()
		h.poll(ctx)
		return nil
	}
	wg.Go(func() { h.guard(ctx) })
	h.listen(ctx)
	return nil
}

// chooseMode settles Config.Notify, false if ctx ended first. Auto and
// Keyspace make sure Redis publishes the events needed; Auto falls back to
// polling where CONFIG is refused. It retries while Redis is unreachable.
func (h *Hub[T]) chooseMode(ctx context.Context) (Mode, bool) {
	if h.cfg.Notify == Poll {
		h.log.Info("notify mode chosen", "mode", Poll, "reason", "configured")
		return Poll, true
	}
	if h.cfg.TrustFlags {
		h.log.Info("notify mode chosen", "mode", Keyspace, "reason", "configured; notify-keyspace-events trusted to include "+NotifyFlags+", not read (no CONFIG)")
		return Keyspace, true
	}
	b := backoff{}
	for {
		err := h.enableNotifications(ctx)
		switch {
		case err == nil:
			h.log.Info("notify mode chosen", "mode", Keyspace, "reason", "keyspace notifications enabled")
			return Keyspace, true
		case isRefused(err) && h.cfg.Notify == Keyspace:
			h.log.Warn("CONFIG refused: trusting notify-keyspace-events to be set on the server", "err", err)
			return Keyspace, true
		case isRefused(err):
			h.log.Warn("notify mode chosen", "mode", Poll, "reason", "CONFIG refused, keyspace notifications cannot be enabled", "err", err)
			return Poll, true
		}
		h.log.Warn("redis unreachable, retrying", "err", err)
		if !b.sleep(ctx) {
			return "", false
		}
	}
}

// backoff sleeps between retries: 100 ms doubling to 2 s.
type backoff struct{ d time.Duration }

// sleep waits the next delay; false if ctx ended first.
func (b *backoff) sleep(ctx context.Context) bool {
	b.d = min(max(2*b.d, 100*time.Millisecond), 2*time.Second)
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (b *backoff) reset() { b.d = 0 }

// Stats is a snapshot of the hub's counters and gauges, for metrics.
type Stats struct {
	Notifications uint64    // keyspace notifications received
	Reads         uint64    // jobs read
	Batches       uint64    // batched read round trips started
	ReadErrors    uint64    // batches that failed
	Fanouts       uint64    // states delivered to waiters
	Resyncs       uint64    // re-reads of every watched job after a (re)subscription
	Reconnects    uint64    // subscriptions lost
	SafetyReads   uint64    // jobs re-read because their last read was older than Config.Resync
	Unannounced   uint64    // changes found by safety re-reads that no notification announced
	BlindEpisodes uint64    // times the hub caught itself missing changes
	Blind         bool      // missing changes now: states re-read at the poll tick
	BlindReason   string    // why, when Blind
	Jobs          int       // jobs watched now
	Waiters       int       // waiters registered now
	Mode          Mode      // how changes are learnt; "" until chosen
	Live          bool      // subscribed (keyspace) or Redis answering (poll)
	Subscribe     Subscribe // what keyspace mode subscribes to
	Channels      int       // keys mode: keyspace channels held on Redis, lingering ones and those on their way included
	Subscribed    uint64    // keys mode: channels named in SUBSCRIBE commands
	Unsubscribed  uint64    // keys mode: channels named in UNSUBSCRIBE commands
	Down          string    // when not Live: why, the listener's last error ("" if none yet)
}

// Stats returns the hub's counters and gauges.
func (h *Hub[T]) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stats
	st.Jobs = len(h.jobs)
	for _, e := range h.jobs {
		st.Waiters += len(e.waiters)
	}
	st.Blind, st.BlindReason, st.Live, st.Down = h.blind.on, h.blind.reason, h.listening, h.down
	st.Mode, st.Subscribe = h.Mode(), h.cfg.Subscribe
	if h.subs != nil {
		st.Channels, st.Subscribed, st.Unsubscribed = h.subs.count, h.subs.sent.subscribe, h.subs.sent.unsubscribe
	}
	return st
}
