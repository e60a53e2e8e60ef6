package stream

import "sync/atomic"

type counters struct {
	notifications atomic.Uint64
	reads         atomic.Uint64
	batches       atomic.Uint64
	readErrors    atomic.Uint64
	fanouts       atomic.Uint64
	resyncs       atomic.Uint64
	reconnects    atomic.Uint64
	safetyReads   atomic.Uint64
	unannounced   atomic.Uint64
	blindEpisodes atomic.Uint64
}

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
	jobs, waiters := len(h.jobs), 0
	for _, e := range h.jobs {
		waiters += len(e.waiters)
	}
	blind, reason, live, down := h.blind.on, h.blind.reason, h.listening, h.down
	var chans int
	var subscribed, unsubscribed uint64
	if h.subs != nil {
		chans, subscribed, unsubscribed = h.subs.count, h.subs.sent.subscribe, h.subs.sent.unsubscribe
	}
	h.mu.Unlock()
	return Stats{
		Notifications: h.stats.notifications.Load(),
		Reads:         h.stats.reads.Load(),
		Batches:       h.stats.batches.Load(),
		ReadErrors:    h.stats.readErrors.Load(),
		Fanouts:       h.stats.fanouts.Load(),
		Resyncs:       h.stats.resyncs.Load(),
		Reconnects:    h.stats.reconnects.Load(),
		SafetyReads:   h.stats.safetyReads.Load(),
		Unannounced:   h.stats.unannounced.Load(),
		BlindEpisodes: h.stats.blindEpisodes.Load(),
		Blind:         blind,
		BlindReason:   reason,
		Jobs:          jobs,
		Waiters:       waiters,
		Mode:          h.Mode(),
		Live:          live,
		Down:          down,
		Subscribe:     h.cfg.Subscribe,
		Channels:      chans,
		Subscribed:    subscribed,
		Unsubscribed:  unsubscribed,
	}
}
