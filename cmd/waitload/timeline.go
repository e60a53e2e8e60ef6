package main

import (
	"bytes"
	"fmt"
	"os"
	"time"
)

// delivery is one waiter's answer or event, on its job's clocks: when the
// completion was due, when its status write started and returned, and when
// the waiter had read it all.
type delivery struct {
	job                       int
	due, sent, done, received time.Time
}

// writeTimeline writes every delivery of the run to path, one line each,
// for what the percentiles fold away: a stall, a burst, the order in which
// a server delivered the jobs of a burst. Times are microseconds since the
// mode's first completion was due.
func (rep *Report) writeTimeline(path string) error {
	var w bytes.Buffer
	fmt.Fprintln(&w, "# mode job due_us sent_us returned_us received_us (since the mode's first completion was due)")
	for _, m := range rep.Modes {
		var t0 time.Time
		for _, d := range m.deliveries {
			if t0.IsZero() || d.due.Before(t0) {
				t0 = d.due
			}
		}
		for _, d := range m.deliveries {
			fmt.Fprintf(&w, "%s %d %d %d %d %d\n", m.Mode, d.job,
				d.due.Sub(t0).Microseconds(), d.sent.Sub(t0).Microseconds(),
				d.done.Sub(t0).Microseconds(), d.received.Sub(t0).Microseconds())
		}
	}
	return os.WriteFile(path, w.Bytes(), 0o644)
}
