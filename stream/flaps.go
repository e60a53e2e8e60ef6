package stream

import "time"

// flapQuiet is the least time between two log lines of one kind
// (subscription lost, subscription live) while a subscription flaps: a
// subscription killed over and over logs two lines per flapQuiet, not two
// per kill. The counters say every loss (Stats, /metrics).
const flapQuiet = 10 * time.Second

// stillDown is how long a loss not logged (it came within flapQuiet of
// the last loss logged) may go on before it is logged after all.
const stillDown = time.Second

// flaps decides which of the subscriptions' losses and confirmations are
// logged: the first of each kind, then at most one of each per flapQuiet,
// each line with the count of those of its kind not logged since the one
// before. The log never ends on a wrong word: a confirmation is logged
// whenever the last line logged was a loss, and a loss not logged is
// logged once it has lasted stillDown (the outage that follows a flap).
// Guarded by the hub's mu.
type flaps struct {
	lostUntil, liveUntil time.Time            // no line of the kind before then
	lostHeld, liveHeld   int                  // not logged since the kind's last line
	saidDown             bool                 // the last line logged was a loss
	down                 map[string]time.Time // per node: since when a loss not logged lasts
}

// lost reports whether a failure of node's subscription at now is logged,
// how many losses were not logged before it, and, for a loss logged late,
// how long it has lasted. first says it begins an outage; the others are
// its failed retries.
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
