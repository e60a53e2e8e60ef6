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
	// DefaultJobsPerConn is how many waits one many-job stream carries in
	// -mode ssemany.
	DefaultJobsPerConn = 10
)

// Config is one load run. The zero value is not usable; the command line
// and the tests fill every field.
type Config struct {
	Target string // the server's base URL, http or https
	CACert string // a PEM file of certificate authorities to trust for an https Target, besides the system's
	Server string // what Target is: waiter.ServerJobwait ("" too) or waiter.ServerNchan, the bench's peer
	// RedisURL is the Redis jobwait reads, which waitload writes the jobs
	// into; with IDs or CreateURL it is only read (INFO), and may be "".
	RedisURL string
	Modes    []waiter.Mode

	// IDs, if any, are the jobs waited on (-ids-file), which waitload
	// neither writes nor completes: it measures what waiters see, with
	// latencies from each waiter's first request.
	IDs []string
	// CreateURL, if set, is where each job is started with a POST
	// (-create-url; {draft} stands for an event draft id), the server's own
	// producer completing them; latencies are measured as with IDs.
	CreateURL string

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
	// waiters' connections are spread over, for a loopback Target; 0 lets
	// the kernel choose.
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

	// TokenSecret, if set, is jobwait's JOBWAIT_AUTH_SECRET: each waiter
	// (each many-job stream) sends a wait token of its jobs minted with it,
	// as the Event Service would (waiter.Token).
	TokenSecret []byte

	// CPUPids are the server's processes, whose CPU time over the
	// completions is reported (CPU.ServerMs); none: not measured.
	CPUPids []int

	// Progress receives a line a second while running; nil is silent.
	Progress io.Writer
	// Warnings receives each warning about the whole run as it arises
	// (the report keeps them too); nil is silent.
	Warnings io.Writer
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
	if c.Waiters < 1 {
		errs = append(errs, fmt.Errorf("-waiters %d: want at least 1", c.Waiters))
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
	if slices.Contains(c.Modes, waiter.ModeSSEMany) && (c.JobsPerConn < 1 || c.JobsPerConn > c.Jobs) {
		errs = append(errs, fmt.Errorf("-jobs-per-conn %d: want 1 to -jobs (%d), so that a stream's jobs differ", c.JobsPerConn, c.Jobs))
	}
	if err := c.validateServer(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case len(c.TokenSecret) > 0 && c.Server == waiter.ServerNchan:
		errs = append(errs, errors.New("-token-secret: wait tokens are jobwait's; Nchan takes none"))
	case len(c.TokenSecret) > 0 && len(c.TokenSecret) < auth.MinSecretLen:
		errs = append(errs, fmt.Errorf("-token-secret is %d bytes: jobwait takes a secret of at least %d", len(c.TokenSecret), auth.MinSecretLen))
	}
	return errors.Join(errs...)
}

// redisOptions reads -redis: go-redis's cluster URL form (more seed nodes
// as ?addr=) names a Redis Cluster, any other URL one server.
func redisOptions(s string) (*redis.Options, *redis.ClusterOptions, error) {
	if strings.Contains(s, "addr=") {
		co, err := redis.ParseClusterURL(s)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis %q: %w", s, err)
		}
		return nil, co, nil
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		return nil, nil, fmt.Errorf("-redis %q: %w", s, err)
	}
	return o, nil, nil
}

// redisClient opens -redis with a connection for each of the producer's
// writes in flight and a few for the readings.
func redisClient(s string) (redis.UniversalClient, error) {
	o, co, err := redisOptions(s)
	if err != nil {
		return nil, err
	}
	if co != nil {
		co.PoolSize = producer.Workers + 4
		// A killed master's slots are written to its promoted replica
		// within a second, not after go-redis's minute.
		co.ClusterStateReloadInterval = time.Second
		return redis.NewClusterClient(co), nil
	}
	o.PoolSize = producer.Workers + 4
	return redis.NewClient(o), nil
}

// completes says whether waitload writes the jobs and completes them, so
// that it knows when each completion was due, sent and returned.
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

// validateServer checks -server and the modes it serves: Nchan has no
// short-poll client to compare (its polling subscriber is a long poll).
func (c Config) validateServer() error {
	switch c.Server {
	case "", waiter.ServerJobwait:
		return nil
	case waiter.ServerNchan:
		for _, m := range c.Modes {
			if m != waiter.ModeSSE && m != waiter.ModeLongPoll {
				return fmt.Errorf("-server nchan -mode %s: Nchan is measured with sse and longpoll only", m)
			}
		}
		return nil
	}
	return fmt.Errorf("-server %q: want jobwait or nchan", c.Server)
}
