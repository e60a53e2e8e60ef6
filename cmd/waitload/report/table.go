package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	"jobwait/cmd/waitload/waiter"
)

// WriteTable prints the report with one column per mode.
func (rep *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "\nwaitload → %s %s (redis %s, notify %q)\n", cmp.Or(rep.Server, waiter.ServerJobwait), rep.Target, rep.Redis, rep.Notify)
	fmt.Fprintf(w, "%d waiters over %d jobs, %g completions/s, budget %gs, hold %gs, %d source addresses, %d process(es)\n\n",
		rep.Waiters, rep.Jobs, rep.Rate, rep.BudgetSeconds, rep.HoldSeconds, rep.Sources, rep.Procs)
	for _, s := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	if len(rep.Modes) > 1 {
		fmt.Fprintf(w, "(%s)\n\n", memoryNote)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, f func(m ModeReport) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, m := range rep.Modes {
			fmt.Fprintf(tw, "%s\t", f(m))
		}
		fmt.Fprintln(tw)
	}
	for _, r := range TableRows {
		row(r.Name, r.Value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range rep.Modes {
		for _, k := range slices.SortedFunc(maps.Keys(m.ErrorKinds), func(a, b string) int {
			return cmp.Or(m.ErrorKinds[b]-m.ErrorKinds[a], cmp.Compare(a, b))
		}) {
			fmt.Fprintf(w, "%s error ×%d: %s\n", m.Mode, m.ErrorKinds[k], k)
		}
		for _, s := range m.Warnings {
			fmt.Fprintf(w, "%s warning: %s\n", m.Mode, s)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// memoryNote qualifies the RSS figures of a run of several modes.
const memoryNote = "a later mode's RSS baseline includes memory jobwait kept from the modes before it; " +
	"for memory per waiter, run one mode against a freshly started jobwait"

// TableRows are the report's rows, shared by the table and the HTML.
var TableRows = []struct {
	Name  string
	Value func(m ModeReport) string
}{
	{"mode", func(m ModeReport) string { return string(m.Mode) }},
	{"waiters", func(m ModeReport) string { return fmt.Sprint(m.Waiters) }},
	{"held (peak)", func(m ModeReport) string { return fmt.Sprint(m.HeldPeak) }},
	{"delivered", func(m ModeReport) string { return fmt.Sprint(m.Delivered) }},
	{"failed (answered FAILED)", func(m ModeReport) string { return fmt.Sprint(m.Failed) }},
	{"timeouts", func(m ModeReport) string { return fmt.Sprint(m.Timeouts) }},
	{"errors", func(m ModeReport) string { return fmt.Sprint(m.Errors) }},
	{"requests", func(m ModeReport) string { return fmt.Sprint(m.Requests) }},
	{"503s asked through", func(m ModeReport) string { return fmt.Sprint(m.Rejected) }},
	{"jobs completed", func(m ModeReport) string { return fmt.Sprintf("%d/%d", m.Completed, m.Jobs) }},
	{"completions/s", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CompletionRate) }},
	{"latency p50 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.P50) }},
	{"latency p90 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.P90) }},
	{"latency p99 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.P99) }},
	{"latency max ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Latency.Max) }},
	{"latency from sent p50 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencySent.P50) }},
	{"latency from sent p99 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencySent.P99) }},
	{"latency from due p50 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencyDue.P50) }},
	{"latency from due p99 ms", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.LatencyDue.P99) }},
	{"server cpu ms completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CPU.ServerMs) }},
	{"redis cpu ms completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CPU.RedisMs) }},
	{"client cpu ms completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.CPU.ClientMs) }},
	{"client busy % completing", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.ClientBusy()) }},
	{"redis cmds while held", func(m ModeReport) string { return fmt.Sprint(m.Redis.HoldCommands) }},
	{"redis cmds/job (raw)", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Redis.PerJob) }},
	{"redis cmds/job (net of producer)", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Redis.NetPerJob) }},
	{"jobwait reads/job", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Redis.ReadsPerJob) }},
	{"jobwait hub reads/job", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Jobwait.HubReadsPerJob) }},
	{"jobwait RSS baseline MiB", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Jobwait.RSSBaseline/(1<<20)) }},
	{"jobwait RSS peak MiB", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Jobwait.RSSPeak/(1<<20)) }},
	{"jobwait KiB per held waiter", func(m ModeReport) string { return fmt.Sprintf("%.1f", m.Jobwait.BytesPerWaiter/(1<<10)) }},
	{"jobwait goroutines baseline", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.Jobwait.GoroutinesBaseline) }},
	{"jobwait goroutines peak", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.Jobwait.GoroutinesPeak) }},
	{"jobwait waiters gauge peak", func(m ModeReport) string { return fmt.Sprintf("%.0f", m.Jobwait.WaitersPeak) }},
	{"connect s", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Phases.Connect) }},
	{"complete s", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Phases.Complete) }},
	{"drain s", func(m ModeReport) string { return fmt.Sprintf("%.2f", m.Phases.Drain) }},
}
