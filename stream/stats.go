package stream

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
