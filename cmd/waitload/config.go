package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mode is one way of waiting for a job, as SPEC.md §3–5 names them.
type Mode string

// The three ways a waiter can wait.
const (
	ModePoll     Mode = "poll"     // legacy clients: a short poll every 2 s for at most 30 s
	ModeLongPoll Mode = "longpoll" // GET .../status?wait=N, repeated while timed out
	ModeSSE      Mode = "sse"      // GET .../stream, an EventSource
	// ModeSSEMany is GET /api/events/jobs/stream?ids=…: one stream carries
	// -jobs-per-conn waits. Not part of -mode all.
	ModeSSEMany Mode = "ssemany"
)

// AllModes is the order in which -mode all runs them.
var AllModes = []Mode{ModePoll, ModeLongPoll, ModeSSE}

// Defaults of the flags.
const (
	DefaultTarget          = "http://127.0.0.1:8080"
	DefaultRedis           = "redis://127.0.0.1:6379/0"
	DefaultWaiters         = 1000
	DefaultJobs            = 100
	DefaultRate            = 50
	DefaultBudget          = 30 * time.Second
	DefaultPollInterval    = 2 * time.Second
	DefaultHold            = 2 * time.Second
	DefaultTimeout         = 10 * time.Minute
	DefaultSources         = 8
	DefaultDialConcurrency = 256
	DefaultSettle          = 25 * time.Second
)

// Config is one load run. The zero value is not usable; parseFlags and the
// tests fill every field.
type Config struct {
	Target   string // jobwait's base URL, loopback only
	Server   string // what Target is: ServerJobwait ("" too) or ServerNchan, the bench's peer (nchan.go)
	RedisURL string // the Redis jobwait reads, loopback only
	Modes    []Mode

	Waiters int     // waiters per mode
	Jobs    int     // jobs per mode; waiter i watches job i mod Jobs
	Rate    float64 // completions per second; 0 or less: as fast as the producer can
	Budget  time.Duration
	// PollInterval is the poll mode's interval when an answer has no Retry-After.
	PollInterval time.Duration
	// Hold is how long all waiters are held, once connected, before the
	// first job is completed.
	Hold time.Duration
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Settle bounds the wait between modes for jobwait to let go of the
	// last mode's waiters and return to its starting goroutine count
	// (fasthttp retires idle workers only after 10 to 20 s), so that each mode's baseline
	// is jobwait at rest.
	Settle time.Duration

	// Sources is how many loopback source addresses (127.0.0.2 onwards) the
	// waiters' connections are spread over; 0 lets the kernel choose.
	Sources int
	// Procs is how many processes hold the waiters: 1 holds them in this
	// process; more re-executes waitload as holder processes, each with its
	// own open file limit, while this process produces and reports.
	Procs int
	// DialConcurrency bounds connection attempts in flight per process, so
	// that a ramp of thousands does not overflow jobwait's accept backlog.
	DialConcurrency int

	// JobsPerConn is how many waits one many-job stream carries (-mode ssemany).
	JobsPerConn int

	// CPUPids are the server's processes, whose CPU time over the
	// completions is reported (CPU.ServerMs); none: not measured.
	CPUPids []int

	JSONPath string // write the report as JSON here, if set
	HTMLPath string // write the report as HTML here, if set
	Timeline string // write every delivery's times here, if set (see writeTimeline)

	// Progress receives a line a second while running; nil is silent.
	Progress io.Writer
}

// parseFlags turns the command line into a Config.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var (
		c    Config
		mode string
	)
	fs := flag.NewFlagSet("waitload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: waitload [flags]\n\n"+
			"Holds waiters against a running jobwait, completes their jobs in Redis as a\n"+
			"producer would, and reports what each way of waiting cost and delivered.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Target, "target", DefaultTarget, "jobwait's base `URL` (127.0.0.0/8 or localhost only)")
	fs.StringVar(&c.Server, "server", ServerJobwait, "what -target is: `jobwait|nchan` (nginx + Nchan as nchan.conf sets it up; sse and longpoll only)")
	fs.StringVar(&c.RedisURL, "redis", DefaultRedis, "the Redis `URL` jobwait reads (127.0.0.0/8 or localhost only)")
	fs.StringVar(&mode, "mode", "all", "way of waiting, `poll|longpoll|sse|ssemany|all`: all runs poll, longpoll and sse one after another; ssemany holds -jobs-per-conn waits per many-job stream")
	fs.IntVar(&c.JobsPerConn, "jobs-per-conn", DefaultJobsPerConn, "waits per connection in -mode ssemany (at most jobwait's JOBWAIT_MAX_IDS)")
	fs.IntVar(&c.Waiters, "waiters", DefaultWaiters, "waiters per mode")
	fs.IntVar(&c.Jobs, "jobs", DefaultJobs, "jobs per mode; the waiters are spread over them")
	fs.Float64Var(&c.Rate, "rate", DefaultRate, "job completions per second; 0: as fast as possible")
	fs.DurationVar(&c.Budget, "budget", DefaultBudget, "each waiter's wait; match jobwait's JOBWAIT_WAIT_BUDGET")
	fs.DurationVar(&c.PollInterval, "poll-interval", DefaultPollInterval, "poll mode's interval when an answer has no Retry-After")
	fs.DurationVar(&c.Hold, "hold", DefaultHold, "how long all waiters are held, once connected, before completing starts")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "bound on the whole run")
	fs.DurationVar(&c.Settle, "settle", DefaultSettle, "between modes, wait up to this long for jobwait to return to rest")
	fs.IntVar(&c.Sources, "sources", DefaultSources, "spread connections over `N` source addresses 127.0.0.2..; 0: kernel's choice")
	fs.IntVar(&c.Procs, "procs", 1, "processes holding the waiters (each holds waiters/procs)")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", DefaultDialConcurrency, "connection attempts in flight per process")
	fs.Func("cpu-pids", "the server's process ids, `PID,PID…` (Linux): report the CPU time they use over the completions", func(v string) error {
		pids, err := parsePids(v)
		c.CPUPids = pids
		return err
	})
	fs.StringVar(&c.JSONPath, "json", "", "write the report as JSON to `FILE`")
	fs.StringVar(&c.HTMLPath, "html", "", "write the report as HTML to `FILE`")
	fs.StringVar(&c.Timeline, "timeline", "", "write every delivery to `FILE`, a line each: mode, job, and when its completion was due, was sent, returned and was received (µs)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	modes, err := parseMode(mode)
	if err != nil {
		return Config{}, err
	}
	c.Modes = modes
	if !*quiet {
		c.Progress = stderr
	}
	return c, c.validate()
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
func parseMode(s string) ([]Mode, error) {
	switch m := Mode(s); m {
	case "all":
		return AllModes, nil
	case ModePoll, ModeLongPoll, ModeSSE, ModeSSEMany:
		return []Mode{m}, nil
	}
	return nil, fmt.Errorf("-mode %q: want poll, longpoll, sse, ssemany or all", s)
}

// validate checks the figures and the workplace rule that waitload only
// ever talks to this machine.
func (c Config) validate() error {
	var errs []error
	if _, err := parseTarget(c.Target); err != nil {
		errs = append(errs, err)
	}
	if _, err := redisOptions(c.RedisURL); err != nil {
		errs = append(errs, err)
	}
	if c.Waiters < 1 {
		errs = append(errs, fmt.Errorf("-waiters %d: want at least 1", c.Waiters))
	}
	if c.Jobs < 1 || c.Jobs > c.Waiters {
		errs = append(errs, fmt.Errorf("-jobs %d: want 1 to -waiters (%d)", c.Jobs, c.Waiters))
	}
	if c.Budget < time.Second {
		errs = append(errs, fmt.Errorf("-budget %v: want at least 1s", c.Budget))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("-poll-interval %v: want more than 0", c.PollInterval))
	}
	if c.Hold < 0 || c.Settle < 0 || c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("-hold %v, -settle %v, -timeout %v: want hold, settle ≥ 0 and timeout > 0", c.Hold, c.Settle, c.Timeout))
	}
	if c.Sources < 0 || c.Sources > 253 {
		errs = append(errs, fmt.Errorf("-sources %d: want 0 to 253", c.Sources))
	}
	if c.Procs < 1 || c.Procs > c.Waiters {
		errs = append(errs, fmt.Errorf("-procs %d: want 1 to -waiters", c.Procs))
	}
	if c.DialConcurrency < 1 {
		errs = append(errs, fmt.Errorf("-dial-concurrency %d: want at least 1", c.DialConcurrency))
	}
	if len(c.Modes) == 0 {
		errs = append(errs, errors.New("no mode"))
	}
	if slices.Contains(c.Modes, ModeSSEMany) && (c.JobsPerConn < 1 || c.JobsPerConn > c.Jobs) {
		errs = append(errs, fmt.Errorf("-jobs-per-conn %d: want 1 to -jobs (%d), so that a stream's jobs differ", c.JobsPerConn, c.Jobs))
	}
	if err := c.validateServer(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// target is jobwait's base URL, checked.
type target struct {
	dial string // 127.x.y.z:port, what waiters connect to
	host string // the Host header, as the user wrote it
	base string // path prefix without a trailing slash
	url  string // scheme://host, for net/http (metrics, readyz)
}

// parseTarget reads -target; only http to a loopback address is accepted.
func parseTarget(s string) (target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return target{}, fmt.Errorf("-target %q: %w", s, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return target{}, fmt.Errorf("-target %q: want http://host:port", s)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ip, err := loopbackIP(u.Hostname())
	if err != nil {
		return target{}, fmt.Errorf("-target %q: %w", s, err)
	}
	hostport := net.JoinHostPort(ip, port)
	return target{
		dial: hostport,
		host: u.Host,
		base: strings.TrimSuffix(u.Path, "/"),
		url:  "http://" + hostport,
	}, nil
}

// redisOptions reads -redis; only a loopback address is accepted.
func redisOptions(s string) (*redis.Options, error) {
	if strings.Contains(s, "addr=") { // TEMP cluster patch (not committed)
		co, err := redis.ParseClusterURL(s)
		if err != nil {
			return nil, err
		}
		for _, a := range co.Addrs {
			h, _, _ := net.SplitHostPort(a)
			if _, err := loopbackIP(h); err != nil {
				return nil, err
			}
		}
		return &redis.Options{Addr: co.Addrs[0]}, nil
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", s, err)
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", s, err)
	}
	ip, err := loopbackIP(host)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", s, err)
	}
	o.Addr = net.JoinHostPort(ip, port)
	return o, nil
}

// errNotLoopback is the workplace rule: load is only ever put on this machine.
var errNotLoopback = errors.New("only loopback targets (127.0.0.0/8 or localhost) are allowed")

// loopbackIP accepts "localhost" and IPv4 literals in 127.0.0.0/8. Other
// names are refused without resolving them: what a name resolves to can change.
func loopbackIP(host string) (string, error) {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1", nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || ip.To4()[0] != 127 {
		return "", fmt.Errorf("%w: %q", errNotLoopback, host)
	}
	return ip.To4().String(), nil
}
