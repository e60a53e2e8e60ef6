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
	on              bool
	began, last     time.Time // its first and latest refusal or error
	refused, errors uint64    // what it counted
}

// hit records trouble at now, an accept error if failed, else a refusal;
// true if it begins an episode.
func (e *episode) hit(now time.Time, failed bool) bool {
	begins := !e.on
	if begins {
		*e = episode{on: true, began: now}
	}
	e.last = now
	if failed {
		e.errors++
	} else {
		e.refused++
	}
	return begins
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

// failed counts a failed accept, and logs the start of an episode.
func (l *Conns) failed(err error) {
	l.emu.Lock()
	if l.server.hit(time.Now(), true) {
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
	case why == atAddrCap && l.addr.hit(now, false):
		l.log.Warn("refusing an address's connections: at its share of the cap",
			"addr", key.String(), "max_conns_per_ip", l.perAddr,
			"hint", "a proxy in front is one address unless listed in JOBWAIT_TRUSTED_PROXIES")
	case why == atCap && l.server.hit(now, false):
		l.log.Warn("refusing connections: at the connection cap", "open", l.open.Load(), "max_conns", l.max)
	case why == outOfFiles:
		l.server.refused++
	}
	l.refused[why].Add(1)
}

// admitted logs the end of each episode that has been quiet long enough.
func (l *Conns) admitted() {
	l.emu.Lock()
	defer l.emu.Unlock()
	now := time.Now()
	if l.server.over(now) {
		l.log.Info("accepting connections again", "open", l.open.Load(), "max_conns", l.max,
			"refused", l.server.refused, "accept_errors", l.server.errors, "lasted", l.server.lasted())
	}
	if l.addr.over(now) {
		l.log.Info("no address refused for its share any more", "max_conns_per_ip", l.perAddr,
			"refused", l.addr.refused, "lasted", l.addr.lasted())
	}
}
