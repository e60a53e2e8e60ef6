package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"jobwait/cmd/waitload/waiter"
)

// scenario is what two runs must share to be compared.
type scenario struct {
	Mode          waiter.Mode
	Waiters, Jobs int
	Rate          float64
}

// Compare prints, as Markdown tables for BENCHMARKS.md, the runs of one
// sitting (peerbench.sh writes one JSON report per run) side by side: a row
// per scenario, in the order of reps, with jobwait's and Nchan's p50, p99
// and memory per held waiter, each a range over the runs, and the ratio of
// their medians (below 1: jobwait ahead); then the same runs' other clocks
// and CPU.
func Compare(w io.Writer, reps []*Report) error {
	var order []scenario
	runs := map[scenario]map[string][]ModeReport{} // by server
	for _, rep := range reps {
		server := cmp.Or(rep.Server, waiter.ServerJobwait)
		for _, m := range rep.Modes {
			sc := scenario{m.Mode, m.Waiters, m.Jobs, rep.Rate}
			if runs[sc] == nil {
				runs[sc] = map[string][]ModeReport{}
				order = append(order, sc)
			}
			runs[sc][server] = append(runs[sc][server], m)
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("no runs in the reports")
	}
	compareTable(w, order, runs, []column{
		{"p50 ms", func(m ModeReport) float64 { return m.Latency.P50 }},
		{"p99 ms", func(m ModeReport) float64 { return m.Latency.P99 }},
		{"KiB/waiter", func(m ModeReport) float64 { return m.Jobwait.BytesPerWaiter / (1 << 10) }},
	})
	fmt.Fprintln(w, "\nratio = median over jobwait's runs ÷ median over Nchan's (below 1: jobwait ahead); "+
		"ranges are min – max over the runs; latency runs from the return of the completing write; "+
		"KiB/waiter is (peak − baseline RSS) / waiters held, Nchan's from its nginx worker.")
	for _, t := range sameRuns {
		fmt.Fprintf(w, "\nThe same runs, %s:\n\n", t.about)
		compareTable(w, order, runs, t.cols)
	}
	return nil
}

// sameRuns are the tables after the first: the same runs, other figures.
var sameRuns = []struct {
	about string
	cols  []column
}{
	{"latency from the start of the completing write " +
		"(where the write goes through the server measured, its backlog delays the write's return), " +
		"and the completion rate the producer kept", []column{
		{"p50 ms from sent", func(m ModeReport) float64 { return m.LatencySent.P50 }},
		{"p99 ms from sent", func(m ModeReport) float64 { return m.LatencySent.P99 }},
		{"completions/s", func(m ModeReport) float64 { return m.CompletionRate }},
	}},
	{"latency from when the completion was due on the producer's schedule " +
		"(where a server slows the producer's writes in flight, the producer falls behind its schedule, " +
		"and only this clock sees that wait)", []column{
		{"p50 ms from due", func(m ModeReport) float64 { return m.LatencyDue.P50 }},
		{"p99 ms from due", func(m ModeReport) float64 { return m.LatencyDue.P99 }},
	}},
	{"the CPU time the server and its Redis used from the first completion until the last waiter ended " +
		"(the same deliveries, whichever server made them; " +
		"0 where the server's processes were not given to waitload with -cpu-pids)", []column{
		{"server CPU ms", func(m ModeReport) float64 { return m.CPU.ServerMs }},
		{"Redis CPU ms", func(m ModeReport) float64 { return m.CPU.RedisMs }},
		{"both CPU ms", func(m ModeReport) float64 { return m.CPU.ServerMs + m.CPU.RedisMs }},
	}},
	{"the load client's own CPU time over the same window, and the share of its core it used " +
		"(near 100 %, the client was the run's bottleneck: its reads, and its producer's writes, waited for it, " +
		"and the latencies measure the client as much as the server)", []column{
		{"client CPU ms", func(m ModeReport) float64 { return m.CPU.ClientMs }},
		{"client busy %", ModeReport.ClientBusy},
	}},
}

// column is one figure of the side-by-side table.
type column struct {
	name string
	f    func(ModeReport) float64
}

// compareTable prints one row per scenario: its runs, its deliveries, and
// for each column jobwait's range, Nchan's range and the ratio.
func compareTable(w io.Writer, order []scenario, runs map[scenario]map[string][]ModeReport, cols []column) {
	fmt.Fprint(w, "| scenario | runs (jobwait + nchan) | delivered (jobwait · nchan) |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s jobwait | %s nchan | %s ratio |", c.name, c.name, c.name)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "|---|---|---|"+strings.Repeat("---|---|---|", len(cols)))
	for _, sc := range order {
		jw, nc := runs[sc][waiter.ServerJobwait], runs[sc][waiter.ServerNchan]
		fmt.Fprintf(w, "| %s, %d waiters / %d jobs, %g/s | %d + %d | %s · %s |", sc.Mode, sc.Waiters, sc.Jobs, sc.Rate,
			len(jw), len(nc), delivered(jw), delivered(nc))
		for _, c := range cols {
			fmt.Fprintf(w, " %s | %s | %s |", spread(jw, c.f), spread(nc, c.f), ratio(jw, nc, c.f))
		}
		fmt.Fprintln(w)
	}
}

// delivered is the runs' deliveries out of their waiters, "–" for none.
func delivered(ms []ModeReport) string {
	if len(ms) == 0 {
		return "–"
	}
	var got, want int
	for _, m := range ms {
		got += m.Delivered
		want += m.Waiters
	}
	return fmt.Sprintf("%d/%d", got, want)
}

// spread is a figure's range over the runs.
func spread(ms []ModeReport, f func(ModeReport) float64) string {
	if len(ms) == 0 {
		return "–"
	}
	vs := values(ms, f)
	lo, hi := fmt.Sprintf("%.1f", vs[0]), fmt.Sprintf("%.1f", vs[len(vs)-1])
	if lo == hi {
		return lo
	}
	return lo + " – " + hi
}

// ratio is median(a) ÷ median(b), "–" when either is missing or b's is not
// above zero (a latency can read just below zero: see README.md).
func ratio(a, b []ModeReport, f func(ModeReport) float64) string {
	if len(a) == 0 || len(b) == 0 {
		return "–"
	}
	num, den := median(values(a, f)), median(values(b, f))
	if den <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", num/den)
}

// values are f over the runs, sorted.
func values(ms []ModeReport, f func(ModeReport) float64) []float64 {
	vs := make([]float64, len(ms))
	for i, m := range ms {
		vs[i] = f(m)
	}
	slices.Sort(vs)
	return vs
}

// median of sorted values: the middle one, or the mean of the middle two.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
