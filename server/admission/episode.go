package admission

import (
	"net/netip"
	"time"
)

// episodeQuiet is how long accepting must go without trouble before an
// episode is over: longer than the backoff, so a lasting EMFILE is one.
const episodeQuiet = 2 * acceptDelayMax

// episode is a run of refusals or accept errors, logged when it starts and,
// with what it counted, at the first admission episodeQuiet after its last.
// The server's own trouble and addresses refused at their share are two
// kinds, so that one greedy client neither hides the other nor passes for it.
type episode struct {
	on          bool
	began, last time.Time // its first and latest refusal or error
	counted     [2]uint64 // its owner's counters when it began
}

// hit records trouble at now; true if it begins an episode, whose counters
// are then taken from counters.
func (e *episode) hit(now time.Time, counters [2]uint64) bool {
	e.last = now
	if e.on {
		return false
	}
	e.on, e.began, e.counted = true, now, counters
	return true
}

// over reports, once, whether at an admission at now the episode is over.
func (e *episode) over(now time.Time) bool {
	if !e.on || now.Sub(e.last) < episodeQuiet {
		return false
	}
	e.on = false
	return true
}

func (e *episode) lasted() string { return e.last.Sub(e.began).Round(time.Millisecond).String() }

// serverCounts are the counters of the server's episodes.
func (l *Conns) serverCounts() [2]uint64 {
	return [2]uint64{l.refused[atCap].Load() + l.refused[outOfFiles].Load(), l.acceptErrors.Load()}
}

// failed counts a failed accept, and logs the start of an episode.
func (l *Conns) failed(err error) {
	l.emu.Lock()
	if l.server.hit(time.Now(), l.serverCounts()) {
		l.log.Warn("accepting connections fails: retrying with backoff, refusing what can be accepted",
			"err", err, "open", l.open.Load(), "max_conns", l.max)
	}
	l.acceptErrors.Add(1)
	l.emu.Unlock()
}

// refusedFor counts a refusal for why, of a connection from key, and logs
// the start of an episode (an outOfFiles refusal's was begun by failed).
func (l *Conns) refusedFor(why refusal, key netip.Addr) {
	now := time.Now()
	l.emu.Lock()
	defer l.emu.Unlock()
	switch {
	case why == atAddrCap && l.addr.hit(now, [2]uint64{l.refused[atAddrCap].Load()}):
		l.log.Warn("refusing an address's connections: at its share of the cap",
			"addr", key.String(), "max_conns_per_ip", l.perAddr,
			"hint", "a proxy in front is one address unless listed in JOBWAIT_TRUSTED_PROXIES")
	case why == atCap && l.server.hit(now, l.serverCounts()):
		l.log.Warn("refusing connections: at the connection cap", "open", l.open.Load(), "max_conns", l.max)
	}
	l.refused[why].Add(1)
}

// admitted logs the end of each episode that has been quiet long enough.
func (l *Conns) admitted() {
	l.emu.Lock()
	defer l.emu.Unlock()
	now := time.Now()
	if l.server.over(now) {
		c := l.serverCounts()
		l.log.Info("accepting connections again", "open", l.open.Load(), "max_conns", l.max,
			"refused", c[0]-l.server.counted[0], "accept_errors", c[1]-l.server.counted[1],
			"lasted", l.server.lasted())
	}
	if l.addr.over(now) {
		l.log.Info("no address refused for its share any more", "max_conns_per_ip", l.perAddr,
			"refused", l.refused[atAddrCap].Load()-l.addr.counted[0], "lasted", l.addr.lasted())
	}
}
