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
}

// Stats is a snapshot of the hub's counters and gauges, for metrics.
type Stats struct {
	Notifications uint64 // keyspace notifications received
	Reads         uint64 // jobs read
	Batches       uint64 // batched read round trips started
	ReadErrors    uint64 // batches that failed
	Fanouts       uint64 // states delivered to waiters
	Resyncs       uint64 // re-reads of every watched job after a (re)subscription
	Reconnects    uint64 // subscriptions lost
	Jobs          int    // jobs watched now
	Waiters       int    // waiters registered now
	Mode          Mode   // how changes are learnt; "" until chosen
	Live          bool   // subscribed (keyspace) or Redis answering (poll)
}

// Stats returns the hub's counters and gauges.
func (h *Hub[T]) Stats() Stats {
	h.mu.Lock()
	jobs, waiters := len(h.jobs), 0
	for _, e := range h.jobs {
		waiters += len(e.waiters)
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
		Jobs:          jobs,
		Waiters:       waiters,
		Mode:          h.Mode(),
		Live:          h.live.Load(),
	}
}
