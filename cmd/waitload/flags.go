package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"jobwait/cmd/waitload/gate"
	"jobwait/cmd/waitload/load"
	"jobwait/cmd/waitload/waiter"
	"jobwait/store"
)

// outputs are what the command line asks of a run besides its load.Config.
type outputs struct {
	json, html, timeline string // where the report is written; each skipped when empty
	thresholds           gate.List
}

// parseFlags turns the command line into a load.Config and the outputs;
// what is wrong with it is said on stderr, once.
func parseFlags(args []string, stderr io.Writer) (c load.Config, out outputs, err error) {
	var mode string
	fs := flag.NewFlagSet("waitload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: waitload [flags]\n\n"+
			"Holds waiters against a running jobwait, completes their jobs in Redis as a\n"+
			"producer would (or waits on jobs it is given: -ids-file, -create-url), and\n"+
			"reports what each way of waiting cost and delivered.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Target, "target", load.DefaultTarget, "the server's base `URL`, http or https")
	fs.StringVar(&c.CACert, "ca-cert", "", "a PEM `FILE` of certificate authorities to trust for an https -target, besides the system's")
	fs.StringVar(&c.Server, "server", waiter.ServerJobwait, "what -target is: `jobwait|nchan` (nginx + Nchan as nchan.conf sets it up; sse and longpoll only)")
	fs.StringVar(&c.RedisURL, "redis", load.DefaultRedis, "the Redis `URL` jobwait reads (redis://, rediss://; more cluster seeds as ?addr=host:port)")
	fs.StringVar(&mode, "mode", "all", "way of waiting, `poll|longpoll|sse|ssemany|all`: all runs poll, longpoll and sse one after another; ssemany holds -jobs-per-conn waits per many-job stream")
	fs.IntVar(&c.JobsPerConn, "jobs-per-conn", load.DefaultJobsPerConn, "waits per connection in -mode ssemany (at most jobwait's JOBWAIT_MAX_IDS)")
	fs.IntVar(&c.Waiters, "waiters", load.DefaultWaiters, "waiters per mode")
	fs.IntVar(&c.Jobs, "jobs", load.DefaultJobs, "jobs per mode; the waiters are spread over them")
	fs.Float64Var(&c.Rate, "rate", load.DefaultRate, "job completions per second; 0: as fast as possible")
	fs.DurationVar(&c.Budget, "budget", load.DefaultBudget, "each waiter's wait; match jobwait's JOBWAIT_WAIT_BUDGET (a difference is warned of)")
	fs.DurationVar(&c.PollInterval, "poll-interval", load.DefaultPollInterval, "poll mode's interval when an answer has no Retry-After; match jobwait's JOBWAIT_POLL_INTERVAL")
	fs.DurationVar(&c.Hold, "hold", load.DefaultHold, "how long all waiters are held, once connected, before completing starts")
	fs.DurationVar(&c.Timeout, "timeout", load.DefaultTimeout, "bound on the whole run")
	fs.DurationVar(&c.Settle, "settle", load.DefaultSettle, "between modes, wait up to this long for jobwait to return to rest")
	fs.IntVar(&c.Sources, "sources", load.DefaultSources, "spread connections to a loopback -target over `N` source addresses 127.0.0.2..; 0: kernel's choice (the default for other targets)")
	fs.IntVar(&c.Procs, "procs", 1, "processes holding the waiters (each holds waiters/procs)")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", load.DefaultDialConcurrency, "connection attempts in flight per process")
	fs.Func("cpu-pids", "the server's process ids, `PID,PID…` (Linux): report the CPU time they use over the completions", func(v string) error {
		pids, err := parsePids(v)
		c.CPUPids = pids
		return err
	})
	idsFile := fs.String("ids-file", "", "wait on the job ids in `FILE`, one a line (# comments), instead of writing jobs into Redis: waitload neither writes nor completes them")
	fs.StringVar(&c.CreateURL, "create-url", "", "start each job with a POST to `URL` ({draft} for an event draft id; a /path is below -target), as jobwait's demo endpoint /api/events/{draft}/ai-recommendations; the server completes them")
	fs.Func("token-secret", "jobwait's JOBWAIT_AUTH_SECRET: each waiter (each many-job stream) sends a wait token of its jobs, HS256, minted with it as the Event Service would (a header, or ?access_token= on streams)", func(v string) error {
		c.TokenSecret = []byte(v)
		return nil
	})
	fs.StringVar(&out.json, "json", "", "write the report as JSON to `FILE`")
	fs.StringVar(&out.html, "html", "", "write the report as HTML to `FILE`")
	fs.StringVar(&out.timeline, "timeline", "", "write every delivery to `FILE`, a line each: mode, job, and when its completion was due, was sent, returned and was received (µs)")
	fs.Var(&out.thresholds, "threshold", "a pass/fail `RULE`, repeatable: "+gate.Syntax)
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return c, out, err // said by the flag package, with the usage
	}
	defer func() {
		if err != nil {
			fmt.Fprintln(stderr, "waitload:", err)
		}
	}()
	if fs.NArg() > 0 {
		return c, out, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	modes, err := parseMode(mode)
	if err != nil {
		return c, out, err
	}
	c.Modes = modes
	for _, t := range out.thresholds {
		if t.Mode() != "" && !slices.Contains(modes, t.Mode()) {
			return c, out, fmt.Errorf("-threshold %s: -mode %s does not run %s", t, mode, t.Mode())
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if t, err := waiter.ParseTarget(c.Target, c.CACert); err == nil && !t.Loopback() && !set["sources"] {
		c.Sources = 0
	}
	if *idsFile != "" {
		if set["jobs"] {
			return c, out, errors.New("-jobs: does not apply with -ids-file, whose ids are the jobs")
		}
		if c.IDs, err = readIDs(*idsFile); err != nil {
			return c, out, err
		}
		c.Jobs = len(c.IDs)
	}
	if *idsFile != "" || c.CreateURL != "" {
		// waitload completes no job: what needs its completions does not apply.
		for _, name := range []string{"rate", "timeline"} {
			if set[name] {
				return c, out, fmt.Errorf("-%s: does not apply with -ids-file or -create-url, where waitload completes no job", name)
			}
		}
		if !set["redis"] {
			c.RedisURL = "" // only read when named
		}
	}
	if !*quiet {
		c.Progress = stderr
	}
	c.Warnings = stderr
	return c, out, c.Validate()
}

// parsePids reads -cpu-pids: process ids, comma-separated.
func parsePids(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%q is not a process id", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// parseMode reads -mode.
func parseMode(s string) ([]waiter.Mode, error) {
	switch m := waiter.Mode(s); m {
	case "all":
		return waiter.AllModes, nil
	case waiter.ModePoll, waiter.ModeLongPoll, waiter.ModeSSE, waiter.ModeSSEMany:
		return []waiter.Mode{m}, nil
	}
	return nil, fmt.Errorf("-mode %q: want poll, longpoll, sse, ssemany or all", s)
}

// readIDs reads -ids-file: a job id a line; blank lines and lines starting
// with # are skipped.
func readIDs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-ids-file: %w", err)
	}
	var ids []string
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !store.ValidID(line) {
			return nil, fmt.Errorf("-ids-file %s:%d: %.80q is not a job id (1 to 64 of A-Z a-z 0-9 _ -)", path, n+1, line)
		}
		ids = append(ids, line)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("-ids-file %s: no job id in it", path)
	}
	return ids, nil
}
