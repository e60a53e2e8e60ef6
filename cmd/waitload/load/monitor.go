package load

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
)

// monitor scrapes the server once a second while a mode runs, keeps the
// peaks and writes a progress line; stop ends its goroutine.
type monitor struct {
	r      *run
	mode   waiter.Mode
	groups []group
	t0     time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu               sync.Mutex
	base, peak, last probe.Sample
	scrapes, failed  int
	lastErr          error
}

func newMonitor(r *run, m waiter.Mode, groups []group, base probe.Sample, t0 time.Time) *monitor {
	ctx, cancel := context.WithCancel(context.Background())
	mon := &monitor{r: r, mode: m, groups: groups, t0: t0, cancel: cancel, base: base, peak: base}
	mon.wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				mon.sampleNow(ctx)
				mon.progress(mon.r.cfg.Progress)
			}
		}
	})
	return mon
}

// sampleNow scrapes the server and keeps the peaks; a failed scrape (the
// server busy) is skipped, and the zero sample returned.
func (mon *monitor) sampleNow(ctx context.Context) probe.Sample {
	s, err := mon.r.sc.Scrape(ctx)
	mon.mu.Lock()
	defer mon.mu.Unlock()
	mon.scrapes++
	if err != nil {
		mon.failed++
		mon.lastErr = err
		return probe.Sample{}
	}
	mon.last = s
	mon.peak.RSS = max(mon.peak.RSS, s.RSS)
	mon.peak.Goroutines = max(mon.peak.Goroutines, s.Goroutines)
	mon.peak.Waiters = max(mon.peak.Waiters, s.Waiters)
	return s
}

func (mon *monitor) progress(w io.Writer) {
	if w == nil {
		return
	}
	c := sumCounts(mon.groups)
	mon.mu.Lock()
	s, failed := mon.last, mon.failed
	mon.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "waitload %-8s %4.0fs  connected %d/%d  held %d", mon.mode, time.Since(mon.t0).Seconds(), c.Started, mon.r.cfg.Waiters, c.Held)
	if mon.r.prod != nil {
		fmt.Fprintf(&b, "  completed %d/%d", mon.r.prod.Completed(), mon.r.cfg.Jobs)
	}
	fmt.Fprintf(&b, "  delivered %d  failed %d  timeouts %d  errors %d", c.Delivered, c.Failed, c.TimedOut, c.Errors)
	if failed == 0 {
		fmt.Fprintf(&b, "  | server rss %.1f MiB  goroutines %.0f  waiters %.0f", s.RSS/(1<<20), s.Goroutines, s.Waiters)
	}
	fmt.Fprintln(w, b.String())
}

// stop ends the monitor's goroutine and waits for it; it may be called again.
func (mon *monitor) stop() {
	mon.cancel()
	mon.wg.Wait()
}

// fill puts the server's baseline and peaks, its memory per held waiter and
// the scrapes that failed into mr.
func (mon *monitor) fill(mr *report.ModeReport) {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	j := report.Jobwait{
		RSSBaseline: mon.base.RSS, RSSPeak: mon.peak.RSS,
		GoroutinesBaseline: mon.base.Goroutines, GoroutinesPeak: mon.peak.Goroutines,
		WaitersPeak: mon.peak.Waiters,
	}
	if mr.HeldPeak > 0 {
		j.BytesPerWaiter = (j.RSSPeak - j.RSSBaseline) / float64(mr.HeldPeak)
	}
	mr.Jobwait = j
	if mon.failed > 0 {
		mr.Warnings = append(mr.Warnings, fmt.Sprintf("%d of %d /metrics scrapes while running failed; last: %v",
			mon.failed, mon.scrapes, mon.lastErr))
	}
}
