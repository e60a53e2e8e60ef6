package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
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
	ServerSettings *ServerSettings `json:"serverSettings,omitempty"` // jobwait's own; nil when not read
	Warnings       []string        `json:"warnings,omitempty"`       // settings that differ from the server's, or went unread
	Modes          []ModeReport    `json:"modes"`
	Verdict        *Verdict        `json:"verdict,omitempty"` // nil until judged (package gate)
}

// Verdict is whether the run passed: its thresholds, and the rule that a
// run where most waits failed fails whatever its thresholds.
type Verdict struct {
	Passed     bool     `json:"passed"`
	Failures   []string `json:"failures,omitempty"`   // why not, a line each
	Thresholds []Check  `json:"thresholds,omitempty"` // each threshold against each mode it names
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
func (v Verdict) Result() string { return results[v.Passed] }

// Result is "passed" or "FAILED".
func (c Check) Result() string { return results[c.Passed] }

var results = map[bool]string{true: "passed", false: "FAILED"}

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
	Tokens          bool    `json:"tokens,omitempty"` // every request sent a wait token (-token-secret)
	JobSource       string  `json:"jobSource"`        // JobsWritten, JobsListed or JobsCreated
	LatencyFrom     string  `json:"latencyFrom"`      // what ModeReport.Latency runs from: FromCompletion or FromRequest
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
	Mode       waiter.Mode    `json:"mode"`
	Waiters    int            `json:"waiters"`
	Jobs       int            `json:"jobs"`
	HeldPeak   int            `json:"heldPeak"` // the most waiters connected at once
	Delivered  int            `json:"delivered"`
	Failed     int            `json:"failed"` // answered FAILED, which waitload's own producer never causes
	Errors     int            `json:"errors"`
	Timeouts   int            `json:"timeouts"`
	ErrorKinds map[string]int `json:"errorKinds,omitempty"` // errors by what went wrong
	Requests   int            `json:"requests"`             // every HTTP request the waiters made, reconnects included
	// Rejected is the 503s (SVC_001, SVC_002) that poll and long-poll
	// waiters asked through after Retry-After; a stream refused is an error.
	Rejected       int     `json:"rejected"`
	Completed      int     `json:"completed"`
	CompletionRate float64 `json:"completionRate"`
	// Latency runs from Settings.LatencyFrom to the waiter's receipt of the
	// whole answer; LatencySent from the start of the completing write (a
	// server's backlog delaying the write's return: Nchan's publish);
	// LatencyDue from when the schedule said it (the producer falling behind:
	// coordinated omission).
	Latency      Latency    `json:"latency"`
	LatencySent  Latency    `json:"latencyFromSent"`
	LatencyDue   Latency    `json:"latencyFromDue"`
	LatencyCurve []float64  `json:"latencyCurveMs,omitempty"` // ms at percentiles 0, 1, …, 100
	Redis        Redis      `json:"redis"`
	CPU          CPU        `json:"cpu"`
	Jobwait      Jobwait    `json:"jobwait"`
	Phases       Phases     `json:"phasesSeconds"`
	Warnings     []string   `json:"warnings,omitempty"` // figures that could not be taken
	Deliveries   []Delivery `json:"-"`                  // for WriteTimeline
}

// Redis is what Redis did, from INFO commandstats.
type Redis struct {
	HoldCommands int64 `json:"holdCommands"` // every command before the first completion
	// Commands is every command from the first completion until the last
	// waiter ended (INFO left out); Producer is waitload's own part of it
	// (2 SETs per completion); Net is the rest: jobwait's.
	Commands    int64            `json:"commands"`
	Producer    int64            `json:"producer"`
	Net         int64            `json:"net"`
	Reads       int64            `json:"reads"` // jobwait's reads of job data among Net
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
	WaitersPeak        float64 `json:"waitersPeak"`    // the jobwait_waiters gauge's (short polls are not held: 0)
	BytesPerWaiter     float64 `json:"bytesPerWaiter"` // (peak RSS − baseline RSS) / HeldPeak
	HubReads           float64 `json:"hubReads"`       // jobwait_hub_job_reads_total completing (short polls: 0)
	HubReadsPerJob     float64 `json:"hubReadsPerJob"`
}

// Phases are how long each part of a mode took.
type Phases struct {
	Connect  float64 `json:"connect"`  // until every waiter had connected
	Hold     float64 `json:"hold"`     // all held, before the first completion
	Complete float64 `json:"complete"` // completing every job
	Drain    float64 `json:"drain"`    // after the last completion until the last waiter ended
	Total    float64 `json:"total"`
}

// CPU is the processor time used from the first completion until the last
// waiter ended: what the deliveries cost, whichever server made them.
type CPU struct {
	ServerMs float64 `json:"serverMs"` // the -cpu-pids processes' user + system; 0: not measured
	RedisMs  float64 `json:"redisMs"`  // INFO cpu, every master of a cluster
	ClientMs float64 `json:"clientMs"` // this process's (with -procs > 1: 0, not measured)
}

// ClientBusy is the per cent of one core the load client used over CPU's
// window: near 100, the client was the bottleneck of its run.
func (m ModeReport) ClientBusy() float64 {
	secs := m.Phases.Complete + m.Phases.Drain
	if secs <= 0 {
		return 0
	}
	return 100 * m.CPU.ClientMs / (secs * 1000)
}

// WriteJSON writes the report to path.
func (rep *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadJSON reads a report WriteJSON wrote.
func ReadJSON(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rep, nil
}

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
