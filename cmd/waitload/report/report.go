package report

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"jobwait/cmd/waitload/waiter"
)

// Report is everything a run measured; the table, the JSON and the HTML
// are three renderings of it.
type Report struct {
	Started time.Time `json:"started"`
	Target  string    `json:"target"`
	Redis   string    `json:"redis"`
	Notify  string    `json:"notify"` // how the server said it is woken (jobwait's /api/info)
	Settings
	// ServerSettings are jobwait's own, as it said them; nil when not read.
	ServerSettings *ServerSettings `json:"serverSettings,omitempty"`
	// Warnings are about the whole run: settings that differ from the
	// server's, settings that could not be read.
	Warnings []string     `json:"warnings,omitempty"`
	Modes    []ModeReport `json:"modes"`
	// Verdict is whether the run passed; nil until judged (package gate).
	Verdict *Verdict `json:"verdict,omitempty"`
}

// Verdict is whether the run passed: its thresholds, and the rule that a
// run where most waits failed fails whatever its thresholds.
type Verdict struct {
	Passed bool `json:"passed"`
	// Failures say why not, a line each.
	Failures []string `json:"failures,omitempty"`
	// Thresholds are each threshold checked against each mode it names.
	Thresholds []Check `json:"thresholds,omitempty"`
}

// Check is one threshold checked against one mode.
type Check struct {
	Threshold string      `json:"threshold"` // as written without spaces: sse.p99<250ms
	Mode      waiter.Mode `json:"mode"`
	Metric    string      `json:"metric"` // delivered, answered, failed, errors, timeouts, p50, p90, p99, max
	Op        string      `json:"op"`     // <, <=, >, >=
	Limit     float64     `json:"limit"`  // in Unit
	Unit      string      `json:"unit"`   // "%" of the mode's waiters, or "ms"
	// Value is what was measured, in Unit; nil when there was nothing to
	// measure (a latency with no delivery), which fails the check.
	Value  *float64 `json:"value"`
	Passed bool     `json:"passed"`
}

// Anchor is the check's id in the HTML report, the same for the same
// threshold and mode in every report: threshold-sse-p99-lt-250ms.
func (c Check) Anchor() string {
	op := map[string]string{"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[c.Op]
	unit := map[string]string{"%": "pct"}[c.Unit]
	return fmt.Sprintf("threshold-%s-%s-%s-%s%s", c.Mode, c.Metric, op, strconv.FormatFloat(c.Limit, 'g', -1, 64), cmp.Or(unit, c.Unit))
}

// Result is "passed" or "FAILED".
func (v Verdict) Result() string { return result(v.Passed) }

// Result is "passed" or "FAILED".
func (c Check) Result() string { return result(c.Passed) }

func result(passed bool) string {
	if passed {
		return "passed"
	}
	return "FAILED"
}

// Measured is the check's value with its unit, or why there is none.
func (c Check) Measured() string {
	if c.Value == nil {
		return "no delivery to measure"
	}
	return fmt.Sprintf("%s %.1f %s", c.Metric, *c.Value, c.Unit)
}

// Completes says whether waitload completed the run's jobs itself, on the
// producer's clocks (reports from before JobSource existed did).
func (rep *Report) Completes() bool { return rep.JobSource == JobsWritten || rep.JobSource == "" }

// ServerSettings are jobwait's settings that the run's should match.
type ServerSettings struct {
	Demo                bool    `json:"demo"`
	WaitBudgetSeconds   float64 `json:"waitBudgetSeconds"`
	PollIntervalSeconds float64 `json:"pollIntervalSeconds"`
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
	// Tokens: every request sent a wait token (-token-secret).
	Tokens bool `json:"tokens,omitempty"`
	// JobSource is where the jobs came from: JobsWritten, JobsListed or
	// JobsCreated.
	JobSource string `json:"jobSource"`
	// LatencyFrom is what ModeReport.Latency is measured from:
	// FromCompletion or FromRequest.
	LatencyFrom string `json:"latencyFrom"`
}

// Where a run's jobs came from (Settings.JobSource).
const (
	JobsWritten = "waitload"   // written and completed by waitload (published, against Nchan)
	JobsListed  = "ids-file"   // listed by the user; waitload does not complete them
	JobsCreated = "create-url" // started over HTTP; the server's producer completes them
)

// What a mode's latency runs from, until the waiter has read the whole
// answer (Settings.LatencyFrom).
const (
	FromCompletion = "completion" // the return of the producer's completing write
	FromRequest    = "request"    // the waiter's first request, when waitload completes no job
)

// ModeReport is one mode's figures.
type ModeReport struct {
	Mode    waiter.Mode `json:"mode"`
	Waiters int         `json:"waiters"`
	Jobs    int         `json:"jobs"`
	// HeldPeak is the most waiters connected at once.
	HeldPeak  int `json:"heldPeak"`
	Delivered int `json:"delivered"`
	// Failed is the waiters answered that their job FAILED: an answer,
	// which waitload's own producer never causes.
	Failed   int `json:"failed"`
	Errors   int `json:"errors"`
	Timeouts int `json:"timeouts"`
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
	// waiter's receipt of the whole answer; when waitload completes no job
	// (Settings.LatencyFrom), from the waiter's first request.
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

	// Deliveries are every delivery, for WriteTimeline; not in the JSON.
	Deliveries []Delivery `json:"-"`
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

// CPU is the processor time the server measured and its Redis used from
// the first completion until the last waiter ended: what the deliveries
// cost, on the same work whichever server is measured. The latency clocks
// differ in what they can see of a server's backlog; this figure does not.
// The load client's own time over the same window says whether the run
// measured the servers at all: a client that used its core whole (see
// ModeReport.ClientBusy) delivered its reads, and its producer's writes, late.
type CPU struct {
	// ServerMs is the user + system time of the server's processes
	// (-cpu-pids, read from /proc); 0 when not measured.
	ServerMs float64 `json:"serverMs"`
	// RedisMs is Redis's own (INFO cpu; every master of a cluster).
	RedisMs float64 `json:"redisMs"`
	// ClientMs is this process's user + system time: the producer and,
	// with -procs 1, every waiter; 0 with -procs > 1 (not measured).
	ClientMs float64 `json:"clientMs"`
}

// ClientBusy is the share of one core, in per cent, the load client used
// from the first completion until the last waiter ended: near 100, the
// client was the bottleneck of its run.
func (m ModeReport) ClientBusy() float64 {
	secs := m.Phases.Complete + m.Phases.Drain
	if secs <= 0 {
		return 0
	}
	return 100 * m.CPU.ClientMs / (secs * 1000)
}
