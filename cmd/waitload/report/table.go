package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"jobwait/cmd/waitload/waiter"
)

// WriteTable prints the report with one column per mode.
func (rep *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "\nwaitload → %s %s (redis %s, notify %q)\n", cmp.Or(rep.Server, waiter.ServerJobwait), rep.Target, cmp.Or(rep.Redis, "not read"), rep.Notify)
	fmt.Fprintf(w, "%d waiters over %d jobs, %s, budget %gs, hold %gs, %d source addresses, %d process(es)%s\n",
		rep.Waiters, rep.Jobs, rep.JobsFrom(), rep.BudgetSeconds, rep.HoldSeconds, rep.Sources, rep.Procs, rep.TokensText())
	fmt.Fprintf(w, "latency: from %s to the waiter's receipt of the whole answer\n\n", rep.LatencyFromText())
	for _, s := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	if len(rep.Modes) > 1 {
		fmt.Fprintf(w, "(%s)\n\n", memoryNote)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range rep.cells() {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range rep.Modes {
		for _, k := range m.ErrorsByCount() {
			fmt.Fprintf(w, "%s error ×%d: %s\n", m.Mode, m.ErrorKinds[k], k)
		}
		for _, s := range m.Warnings {
			fmt.Fprintf(w, "%s warning: %s\n", m.Mode, s)
		}
	}
	if v := rep.Verdict; v != nil {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range v.Thresholds {
			fmt.Fprintf(tw, "threshold\t%s\t%s\t%s\t%s\n", c.Result(), c.Threshold, c.Mode, c.Measured())
		}
		tw.Flush()
		fmt.Fprintf(w, "verdict: %s\n", v.Result())
		for _, f := range v.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// memoryNote qualifies the RSS figures of a run of several modes.
const memoryNote = "a later mode's RSS baseline includes memory jobwait kept from the modes before it; " +
	"for memory per waiter, run one mode against a freshly started jobwait"

// JobsFrom says where the run's jobs came from.
func (rep *Report) JobsFrom() string {
	switch rep.JobSource {
	case JobsListed:
		return "listed in -ids-file, not completed by waitload"
	case JobsCreated:
		return "started with -create-url and completed by the server"
	}
	return fmt.Sprintf("%g completions/s", rep.Rate)
}

// TokensText says that every request sent a wait token; "" when none did.
func (rep *Report) TokensText() string {
	if rep.Tokens {
		return ", every request with a wait token"
	}
	return ""
}

// LatencyFromText says what the latencies are measured from.
func (rep *Report) LatencyFromText() string {
	if rep.LatencyFrom == FromRequest {
		return "each waiter's first request"
	}
	return "the return of the producer's completing write"
}

// Row is one line of the report's table: a figure, a cell per mode.
type Row struct {
	Name  string
	Value func(m ModeReport) string
	shown func(rep *Report) bool // nil: always
}

// Rows are the rows of rep's table: the figures that apply to where its
// jobs came from and to what it read.
func (rep *Report) Rows() []Row {
	return slices.DeleteFunc(slices.Clone(tableRows), func(r Row) bool { return r.shown != nil && !r.shown(rep) })
}

// cells are the Rows as text, shared by the table and the HTML: a
// figure's name, then a cell per mode.
func (rep *Report) cells() [][]string {
	var rows [][]string
	for _, r := range rep.Rows() {
		cells := []string{r.Name}
		for _, m := range rep.Modes {
			cells = append(cells, r.Value(m))
		}
		rows = append(rows, cells)
	}
	return rows
}

// redisRead is a run that read Redis's figures.
func redisRead(rep *Report) bool { return rep.Redis != "" }

var tableRows = []Row{
	{"mode", func(m ModeReport) string { return string(m.Mode) }, nil},
	{"waiters", func(m ModeReport) string { return fmt.Sprint(m.Waiters) }, nil},
	{"held (peak)", func(m ModeReport) string { return fmt.Sprint(m.HeldPeak) }, nil},
	{"delivered", func(m ModeReport) string { return fmt.Sprint(m.Delivered) }, nil},
	{"failed (answered FAILED)", func(m ModeReport) string { return fmt.Sprint(m.Failed) }, nil},
	{"timeouts", func(m ModeReport) string { return fmt.Sprint(m.Timeouts) }, nil},
	{"errors", func(m ModeReport) string { return fmt.Sprint(m.Errors) }, nil},
	{"requests", func(m ModeReport) string { return fmt.Sprint(m.Requests) }, nil},
	{"503s asked through", func(m ModeReport) string { return fmt.Sprint(m.Rejected) }, nil},
	{"jobs completed", func(m ModeReport) string { return fmt.Sprintf("%d/%d", m.Completed, m.Jobs) }, (*Report).Completes},
	{"completions/s", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CompletionRate) }, (*Report).Completes},
	{"latency p50 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.P50) }, nil},
	{"latency p90 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.P90) }, nil},
	{"latency p99 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.P99) }, nil},
	{"latency max ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.Max) }, nil},
	{"latency from sent p50 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencySent.P50) }, (*Report).Completes},
	{"latency from sent p99 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencySent.P99) }, (*Report).Completes},
	{"latency from due p50 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencyDue.P50) }, (*Report).Completes},
	{"latency from due p99 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencyDue.P99) }, (*Report).Completes},
	{"server cpu ms completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CPU.ServerMs) }, nil},
	{"redis cpu ms completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CPU.RedisMs) }, redisRead},
	{"client cpu ms completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CPU.ClientMs) }, nil},
	{"client busy % completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.ClientBusy()) }, nil},
	{"redis cmds while held", func(m ModeReport) string { return fmt.Sprint(m.Redis.HoldCommands) }, redisRead},
	{"redis cmds/job (raw)", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Redis.PerJob) }, (*Report).Completes},
	{"redis cmds/job (net of producer)", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Redis.NetPerJob) }, (*Report).Completes},
	{"jobwait reads/job", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Redis.ReadsPerJob) }, (*Report).Completes},
	{"jobwait hub reads/job", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Jobwait.HubReadsPerJob) }, (*Report).Completes},
	{"jobwait RSS baseline MiB", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Jobwait.RSSBaseline/(1<<20)) }, nil},
	{"jobwait RSS peak MiB", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Jobwait.RSSPeak/(1<<20)) }, nil},
	{"jobwait KiB per held waiter", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Jobwait.BytesPerWaiter/(1<<10)) }, nil},
	{"jobwait goroutines baseline", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.Jobwait.GoroutinesBaseline) }, nil},
	{"jobwait goroutines peak", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.Jobwait.GoroutinesPeak) }, nil},
	{"jobwait waiters gauge peak", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.Jobwait.WaitersPeak) }, nil},
	{"connect s", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Phases.Connect) }, nil},
	{"complete s", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Phases.Complete) }, nil},
	{"drain s", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Phases.Drain) }, nil},
}

// ErrorsByCount are the mode's kinds of error, the most frequent first.
func (m ModeReport) ErrorsByCount() []string {
	return slices.SortedFunc(maps.Keys(m.ErrorKinds), func(a, b string) int {
		return cmp.Or(m.ErrorKinds[b]-m.ErrorKinds[a], cmp.Compare(a, b))
	})
}
