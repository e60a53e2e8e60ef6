package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// Report is everything a run measured; the table, the JSON and the HTML
// are three renderings of it.
type Report struct {
	Started time.Time `json:"started"`
	Target  string    `json:"target"`
	Redis   string    `json:"redis"`
	Notify  string    `json:"notify"` // how jobwait said it is woken (/readyz)
	Settings
	Modes []ModeReport `json:"modes"`
}

// Settings are the run's parameters as reported.
type Settings struct {
	Server          string  `json:"server,omitempty"` // "" is jobwait
	Waiters         int     `json:"waiters"`
	Jobs            int     `json:"jobs"`
	Rate            float64 `json:"rate"`
	BudgetSeconds   float64 `json:"budgetSeconds"`
	PollSeconds     float64 `json:"pollIntervalSeconds"`
	HoldSeconds     float64 `json:"holdSeconds"`
	SettleSeconds   float64 `json:"settleSeconds"`
	Sources         int     `json:"sources"`
	Procs           int     `json:"procs"`
	DialConcurrency int     `json:"dialConcurrency"`
}

// ModeReport is one mode's figures.
type ModeReport struct {
	Mode    Mode `json:"mode"`
	Waiters int  `json:"waiters"`
	Jobs    int  `json:"jobs"`
	// HeldPeak is the most waiters connected at once.
	HeldPeak  int `json:"heldPeak"`
	Delivered int `json:"delivered"`
	Errors    int `json:"errors"`
	Timeouts  int `json:"timeouts"`
	// ErrorKinds counts errors by what went wrong.
	ErrorKinds map[string]int `json:"errorKinds,omitempty"`
	// Requests is the HTTP requests all waiters made (polls, long polls,
	// streams and their reconnects).
	Requests int `json:"requests"`
	// Rejected is the 503 answers (SVC_001 too many waiters, SVC_002 Redis
	// unreachable) that poll and long-poll waiters asked through after
	// Retry-After, as clients would; a stream refused is an error.
	Rejected       int     `json:"rejected"`
	Completed      int     `json:"completed"`
	CompletionRate float64 `json:"completionRate"`
	// Latency runs from the return of the producer's status write to the
	// waiter's receipt of the whole answer.
	Latency Latency `json:"latency"`
	// LatencySent runs from the start of the producer's completing write
	// (the status write, after the result's) to the same receipt. It adds
	// the write itself: where the write goes through the server measured
	// (Nchan's publish), the server's backlog delays the write's return,
	// and only this clock sees that wait.
	LatencySent Latency `json:"latencyFromSent"`
	// LatencyDue runs from when the completion was due on the producer's
	// schedule to the same receipt. It adds the time the write waited to
	// start, and the result's write before it: the producer keeps a few
	// writes in flight, and when a server slows them (Nchan's publish) it
	// falls behind its schedule, a delay the other clocks never see
	// (coordinated omission).
	LatencyDue Latency `json:"latencyFromDue"`
	// LatencyCurve is the latency (ms) at percentiles 0, 1, …, 100.
	LatencyCurve []float64 `json:"latencyCurveMs,omitempty"`
	Redis        Redis     `json:"redis"`
	CPU          CPU       `json:"cpu"`
	Jobwait      Jobwait   `json:"jobwait"`
	Phases       Phases    `json:"phasesSeconds"`
	// Warnings are figures that could not be taken (a failed /metrics scrape).
	Warnings []string `json:"warnings,omitempty"`

	deliveries []delivery // every delivery, for -timeline
}

// Redis is what Redis did, from INFO commandstats.
type Redis struct {
	// HoldCommands is every command while the waiters connected and were
	// held, before the first completion.
	HoldCommands int64 `json:"holdCommands"`
	// Commands is every command from the first completion until the last
	// waiter ended (INFO itself left out); Producer is waitload's own part
	// of it, known exactly (2 SETs per completion); Net is the rest: jobwait's.
	Commands int64 `json:"commands"`
	Producer int64 `json:"producer"`
	Net      int64 `json:"net"`
	// Reads is jobwait's reads of job data (GET, MGET, HGETALL, …) among Net.
	Reads       int64            `json:"reads"`
	PerJob      float64          `json:"commandsPerJob"`
	NetPerJob   float64          `json:"netCommandsPerJob"`
	ReadsPerJob float64          `json:"readsPerJob"`
	ByCommand   map[string]int64 `json:"byCommand"`
}

// Jobwait is jobwait's own figures from /metrics: at the mode's start and
// the highest seen while it ran.
type Jobwait struct {
	RSSBaseline        float64 `json:"rssBaselineBytes"`
	RSSPeak            float64 `json:"rssPeakBytes"`
	GoroutinesBaseline float64 `json:"goroutinesBaseline"`
	GoroutinesPeak     float64 `json:"goroutinesPeak"`
	// WaitersPeak is the jobwait_waiters gauge's peak: held long polls and
	// streams as jobwait counts them (short polls are not held: 0).
	WaitersPeak float64 `json:"waitersPeak"`
	// BytesPerWaiter is (peak RSS − baseline RSS) / HeldPeak.
	BytesPerWaiter float64 `json:"bytesPerWaiter"`
	// HubReads is jobwait's own count of jobs its hub read over the
	// completion phase (jobwait_hub_job_reads_total); short polls read
	// without the hub, so it is 0 for them.
	HubReads       float64 `json:"hubReads"`
	HubReadsPerJob float64 `json:"hubReadsPerJob"`
}

// Phases are how long each part of a mode took.
type Phases struct {
	Connect  float64 `json:"connect"`  // until every waiter had connected
	Hold     float64 `json:"hold"`     // all held, before the first completion
	Complete float64 `json:"complete"` // completing every job
	Drain    float64 `json:"drain"`    // after the last completion until the last waiter ended
	Total    float64 `json:"total"`
}

func newReport(cfg Config, notify string) *Report {
	return &Report{
		Started: time.Now().UTC(), Target: cfg.Target, Redis: cfg.RedisURL, Notify: notify,
		Settings: Settings{
			Server: cfg.Server, Waiters: cfg.Waiters, Jobs: cfg.Jobs, Rate: cfg.Rate,
			BudgetSeconds: cfg.Budget.Seconds(), PollSeconds: cfg.PollInterval.Seconds(),
			HoldSeconds: cfg.Hold.Seconds(), SettleSeconds: cfg.Settle.Seconds(), Sources: cfg.Sources, Procs: cfg.Procs,
			DialConcurrency: cfg.DialConcurrency,
		},
	}
}

// fillWaiters counts the outcomes and computes the latencies: a delivered
// waiter's receipt minus its job's completion, on each clock.
func (mr *ModeReport) fillWaiters(outs []outcome, comps []completion, peak int) {
	mr.HeldPeak = peak
	for _, o := range outs {
		mr.Requests += o.Requests
		mr.Rejected += o.Rejected
		switch o.Kind {
		case Delivered:
			if o.Job < len(comps) && !comps[o.Job].done.IsZero() {
				mr.Delivered++
				c := comps[o.Job]
				mr.deliveries = append(mr.deliveries, delivery{job: o.Job, due: c.due, sent: c.sent, done: c.done, received: o.At})
				continue
			}
			o.Err = "delivered a job whose completion was not recorded"
		case TimedOut:
			mr.Timeouts++
			continue
		}
		mr.Errors++
		if mr.ErrorKinds == nil {
			mr.ErrorKinds = map[string]int{}
		}
		mr.ErrorKinds[o.Err]++
	}
	var lat, sent, due []time.Duration
	for _, d := range mr.deliveries {
		lat = append(lat, d.received.Sub(d.done))
		sent = append(sent, d.received.Sub(d.sent))
		due = append(due, d.received.Sub(d.due))
	}
	mr.Latency = summarize(lat)
	mr.LatencySent = summarize(sent)
	mr.LatencyDue = summarize(due)
	mr.LatencyCurve = curve(lat, 100)
}

func redisFigures(hold, completion cmdStats, completed, producerCmds int) Redis {
	r := Redis{
		HoldCommands: hold.total(),
		Commands:     completion.total(),
		Producer:     int64(producerCmds * completed),
		Reads:        completion.reads(),
		ByCommand:    completion,
	}
	r.Net = r.Commands - r.Producer
	if completed > 0 {
		r.PerJob = float64(r.Commands) / float64(completed)
		r.NetPerJob = float64(r.Net) / float64(completed)
		r.ReadsPerJob = float64(r.Reads) / float64(completed)
	}
	return r
}

// writeTable prints the report with one column per mode.
func (rep *Report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "\nwaitload → %s %s (redis %s, notify %q)\n", cmp.Or(rep.Server, ServerJobwait), rep.Target, rep.Redis, rep.Notify)
	fmt.Fprintf(w, "%d waiters over %d jobs, %g completions/s, budget %gs, hold %gs, %d source addresses, %d process(es)\n\n",
		rep.Waiters, rep.Jobs, rep.Rate, rep.BudgetSeconds, rep.HoldSeconds, rep.Sources, rep.Procs)
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
	for _, r := range tableRows {
		row(r.name, r.value)
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

// tableRows are the report's rows, shared by the table and the HTML.
var tableRows = []struct {
	name  string
	value func(m ModeReport) string
}{
	{"mode", func(m ModeReport) string { return string(m.Mode) }},
	{"waiters", func(m ModeReport) string { return fmt.Sprint(m.Waiters) }},
	{"held (peak)", func(m ModeReport) string { return fmt.Sprint(m.HeldPeak) }},
	{"delivered", func(m ModeReport) string { return fmt.Sprint(m.Delivered) }},
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

// writeJSON writes the report to path.
func (rep *Report) writeJSON(path string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
