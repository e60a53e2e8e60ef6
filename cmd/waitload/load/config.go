package load

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/cmd/waitload/producer"
	"jobwait/cmd/waitload/waiter"
	"jobwait/server/auth"
	"jobwait/store"
)

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
	DefaultJobsPerConn     = 10 // waits per many-job stream in -mode ssemany
)

// Config is one load run; the command line and the tests fill every field.
// Its fields are the flags of the same names (see their help).
type Config struct {
	Target   string // the server's base URL, http or https
	CACert   string // a PEM file of CAs to trust for an https Target, besides the system's
	Server   string // waiter.ServerJobwait ("" too) or waiter.ServerNchan, the bench's peer
	RedisURL string // with IDs or CreateURL only read (INFO), and may be ""
	Modes    []waiter.Mode

	// IDs (-ids-file) or CreateURL (-create-url, {draft} standing for an
	// event draft id) name jobs waitload neither writes nor completes: it
	// measures latencies from each waiter's first request.
	IDs       []string
	CreateURL string

	Waiters      int     // per mode
	Jobs         int     // per mode; waiter i watches job i mod Jobs
	Rate         float64 // completions per second; 0 or less: as fast as the producer can
	Budget       time.Duration
	PollInterval time.Duration
	Hold         time.Duration // all waiters held, once connected, before the first completion
	Timeout      time.Duration // bounds the whole run
	// Settle bounds the wait between modes for jobwait to return to its
	// starting goroutine count (fasthttp retires idle workers only after 10
	// to 20 s), so that each mode's baseline is jobwait at rest.
	Settle time.Duration

	Sources int // loopback source addresses 127.0.0.2.. for a loopback Target; 0: the kernel's choice
	// Procs above 1 re-executes waitload as holder processes, each with its
	// own open file limit, while this process produces and reports.
	Procs int
	// DialConcurrency bounds connection attempts in flight per process, so
	// that a ramp of thousands does not overflow jobwait's accept backlog.
	DialConcurrency int
	JobsPerConn     int    // waits per many-job stream (-mode ssemany)
	TokenSecret     []byte // jobwait's JOBWAIT_AUTH_SECRET, to mint wait tokens (waiter.Token)
	CPUPids         []int  // the server's processes, whose CPU time is reported; none: not measured

	Progress io.Writer // a progress line a second; nil is silent
	Warnings io.Writer // each warning about the run as it arises (the report keeps them too); nil is silent
}

// Validate checks the settings, each error saying which flag is wrong.
func (c Config) Validate() error {
	var errs []error
	if t, err := waiter.ParseTarget(c.Target, c.CACert); err != nil {
		errs = append(errs, err)
	} else if c.Sources > 0 && !t.Loopback() {
		errs = append(errs, fmt.Errorf("-sources %d: the source addresses 127.0.0.x reach only a loopback -target; want 0 for %s", c.Sources, c.Target))
	}
	if c.RedisURL != "" || c.completes() {
		if _, _, err := redisOptions(c.RedisURL); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.validateJobs(); err != nil {
		errs = append(errs, err)
	}
	nchan := c.Server == waiter.ServerNchan
	// Nchan has no short-poll client to compare (its polling subscriber is a long poll).
	var notNchan waiter.Mode
	if i := slices.IndexFunc(c.Modes, func(m waiter.Mode) bool { return m != waiter.ModeSSE && m != waiter.ModeLongPoll }); i >= 0 {
		notNchan = c.Modes[i]
	}
	for _, rule := range []struct {
		bad  bool
		what string
	}{
		{c.Waiters < 1, fmt.Sprintf("-waiters %d: want at least 1", c.Waiters)},
		{c.Budget < time.Second, fmt.Sprintf("-budget %v: want at least 1s", c.Budget)},
		{c.PollInterval <= 0, fmt.Sprintf("-poll-interval %v: want more than 0", c.PollInterval)},
		{c.Hold < 0 || c.Settle < 0 || c.Timeout <= 0, fmt.Sprintf("-hold %v, -settle %v, -timeout %v: want hold, settle ≥ 0 and timeout > 0", c.Hold, c.Settle, c.Timeout)},
		{c.Sources < 0 || c.Sources > 253, fmt.Sprintf("-sources %d: want 0 to 253", c.Sources)},
		{c.Procs < 1 || c.Procs > c.Waiters, fmt.Sprintf("-procs %d: want 1 to -waiters", c.Procs)},
		{c.DialConcurrency < 1, fmt.Sprintf("-dial-concurrency %d: want at least 1", c.DialConcurrency)},
		{len(c.Modes) == 0, "no mode"},
		{slices.Contains(c.Modes, waiter.ModeSSEMany) && (c.JobsPerConn < 1 || c.JobsPerConn > c.Jobs),
			fmt.Sprintf("-jobs-per-conn %d: want 1 to -jobs (%d), so that a stream's jobs differ", c.JobsPerConn, c.Jobs)},
		{!nchan && c.Server != "" && c.Server != waiter.ServerJobwait, fmt.Sprintf("-server %q: want jobwait or nchan", c.Server)},
		{nchan && notNchan != "", fmt.Sprintf("-server nchan -mode %s: Nchan is measured with sse and longpoll only", notNchan)},
		{nchan && len(c.TokenSecret) > 0, "-token-secret: wait tokens are jobwait's; Nchan takes none"},
		{!nchan && len(c.TokenSecret) > 0 && len(c.TokenSecret) < auth.MinSecretLen,
			fmt.Sprintf("-token-secret is %d bytes: jobwait takes a secret of at least %d", len(c.TokenSecret), auth.MinSecretLen)},
	} {
		if rule.bad {
			errs = append(errs, errors.New(rule.what))
		}
	}
	return errors.Join(errs...)
}

// redisOptions reads -redis: go-redis's cluster URL form (more seeds as
// ?addr=) names a Redis Cluster, any other URL one server.
func redisOptions(s string) (o *redis.Options, co *redis.ClusterOptions, err error) {
	if strings.Contains(s, "addr=") {
		co, err = redis.ParseClusterURL(s)
	} else {
		o, err = redis.ParseURL(s)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("-redis %q: %w", s, err)
	}
	return o, co, nil
}

// redisClient opens -redis with a connection for each of the producer's
// writes in flight and a few for the readings.
func redisClient(s string) (redis.UniversalClient, error) {
	o, co, err := redisOptions(s)
	switch {
	case err != nil:
		return nil, err
	case co != nil:
		co.PoolSize = producer.Workers + 4
		// A killed master's slots are written to its promoted replica
		// within a second, not after go-redis's minute.
		co.ClusterStateReloadInterval = time.Second
		return redis.NewClusterClient(co), nil
	}
	o.PoolSize = producer.Workers + 4
	return redis.NewClient(o), nil
}

// completes says whether waitload writes the jobs and completes them,
// knowing when each completion was due, sent and returned.
func (c Config) completes() bool { return len(c.IDs) == 0 && c.CreateURL == "" }

// validateJobs checks where the jobs come from.
func (c Config) validateJobs() error {
	switch {
	case len(c.IDs) > 0 && c.CreateURL != "":
		return errors.New("-ids-file and -create-url: want one of them")
	case !c.completes() && c.Server == waiter.ServerNchan:
		return errors.New("-server nchan: the jobs are published by waitload; -ids-file and -create-url do not apply")
	case len(c.IDs) > 0:
		for _, id := range c.IDs {
			if !store.ValidID(id) {
				return fmt.Errorf("-ids-file: %q is not a job id (1 to 64 of A-Z a-z 0-9 _ -)", id)
			}
		}
		if c.Jobs != len(c.IDs) || c.Jobs > c.Waiters {
			return fmt.Errorf("-ids-file: %d ids for %d waiters: want at least a waiter per id", len(c.IDs), c.Waiters)
		}
	case c.CreateURL != "":
		u, err := url.Parse(strings.ReplaceAll(c.CreateURL, "{draft}", "d"))
		if err != nil || !strings.HasPrefix(c.CreateURL, "/") && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
			return fmt.Errorf("-create-url %q: want an http(s) URL, or a path below -target, with {draft} for the event draft id", c.CreateURL)
		}
	}
	if c.Jobs < 1 || c.Jobs > c.Waiters {
		return fmt.Errorf("-jobs %d: want 1 to -waiters (%d)", c.Jobs, c.Waiters)
	}
	return nil
}

// createURL is CreateURL, a path taken as below the target.
func (c Config) createURL() string {
	if strings.HasPrefix(c.CreateURL, "/") {
		return strings.TrimSuffix(c.Target, "/") + c.CreateURL
	}
	return c.CreateURL
}
