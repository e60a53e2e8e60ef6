package report

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"time"
)

// Delivery is one waiter's answer or event, on its job's clocks: when the
// completion was due, when its status write started and returned, and when
// the waiter had read it all.
type Delivery struct {
	Job                       int
	Due, Sent, Done, Received time.Time
}

// WriteTimeline writes every delivery of the run to path, one line each,
// for what the percentiles fold away: a stall, a burst, the order in which
// a server delivered the jobs of a burst. Times are microseconds since the
// mode's first completion was due.
func (rep *Report) WriteTimeline(path string) error {
	var w bytes.Buffer
	fmt.Fprintln(&w, "# mode job due_us sent_us returned_us received_us (since the mode's first completion was due)")
	for _, m := range rep.Modes {
		if len(m.Deliveries) == 0 {
			continue
		}
		t0 := slices.MinFunc(m.Deliveries, func(a, b Delivery) int { return a.Due.Compare(b.Due) }).Due
		for _, d := range m.Deliveries {
			fmt.Fprintf(&w, "%s %d %d %d %d %d\n", m.Mode, d.Job,
				d.Due.Sub(t0).Microseconds(), d.Sent.Sub(t0).Microseconds(),
				d.Done.Sub(t0).Microseconds(), d.Received.Sub(t0).Microseconds())
		}
	}
	return os.WriteFile(path, w.Bytes(), 0o644)
}
