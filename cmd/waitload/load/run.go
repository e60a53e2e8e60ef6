package load

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/cmd/waitload/nchan"
	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/proc"
	"jobwait/cmd/waitload/producer"
	"jobwait/cmd/waitload/report"
	"jobwait/cmd/waitload/waiter"
	"jobwait/store"
)

// Run runs each mode of cfg in turn against a running server and returns
// the report. Waiters' troubles are figures in the report; the error is for a
// run that could not be carried out (the server or Redis unreachable, a
// producer write failing, a holder process dying), with a report of the
// modes finished so far.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Procs == 1 {
		if err := waiter.CheckNoFile(cfg.Waiters); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	t, _ := waiter.ParseTarget(cfg.Target, cfg.CACert)
	r := &run{cfg: cfg, id: fmt.Sprintf("%08x", rand.Uint32())}
	var err error
	if cfg.RedisURL != "" {
		if r.rdb, err = redisClient(cfg.RedisURL); err != nil {
			return nil, err
		}
		defer r.rdb.Close()
		if err = producer.Warm(ctx, r.rdb); err != nil {
			return nil, err
		}
	}
	rep := newReport(cfg)
	if cfg.Server == waiter.ServerNchan {
		r.prod = producer.New(nchan.NewPublisher(t.URL(), httpClient(t, 10*time.Second, producer.Workers)), 0)
		stats := nchan.NewStats(t.URL(), httpClient(t, 5*time.Second, 1))
		r.sc = stats
		rep.Notify, err = stats.Notify(ctx)
	} else {
		jw := probe.NewJobwait(t.URL(), httpClient(t, 5*time.Second, 1))
		r.sc = jw
		err = r.checkSettings(ctx, jw, rep)
		if cfg.CreateURL != "" {
			r.creator = producer.NewCreator(cfg.createURL(), httpClient(t, 10*time.Second, producer.Workers))
		} else if cfg.completes() {
			r.prod = producer.New(store.New(r.rdb), producer.StoreCommands)
		}
	}
	if err != nil {
		return nil, err
	}
	r.rest, _ = r.sc.Scrape(ctx) // the server at rest, for settle
	for i, m := range cfg.Modes {
		if i > 0 {
			if err := r.settle(ctx); err != nil {
				return rep, err
			}
		}
		mr, err := r.mode(ctx, m)
		rep.Modes = append(rep.Modes, mr)
		if err != nil {
			return rep, fmt.Errorf("mode %s: %w", m, err)
		}
	}
	return rep, nil
}

// httpClient is a client of the target's own endpoints (figures,
// publishing) with at most conns connections.
func httpClient(t waiter.Target, timeout time.Duration, conns int) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true, TLSClientConfig: t.TLS(),
	}}
}

// run is the state shared by a run's modes.
type run struct {
	cfg     Config
	rdb     redis.UniversalClient // nil without -redis
	prod    *producer.Producer    // nil when waitload does not complete the jobs
	creator *producer.Creator     // -create-url
	sc      serverStats
	id      string       // makes this run's job ids its own: short, random, valid in an id
	rest    probe.Sample // the server before the first mode
}

// serverStats reads the server's own figures: *probe.Jobwait or *nchan.Stats.
type serverStats interface {
	Scrape(ctx context.Context) (probe.Sample, error)
}

// group is a share of a mode's waiters: *waiter.Holder or *proc.Child.
type group interface {
	Counts() waiter.Counts
	Wait() ([]waiter.Outcome, error)
}

// mode runs one mode: create the jobs, connect every waiter, hold them,
// complete the jobs at the chosen rate, wait for every waiter to end.
func (r *run) mode(ctx context.Context, m waiter.Mode) (report.ModeReport, error) {
	cfg := r.cfg
	mr := report.ModeReport{Mode: m, Waiters: cfg.Waiters, Jobs: cfg.Jobs}
	ids, jobs, err := r.jobs(ctx, m)
	if err != nil {
		return mr, err
	}
	// The server's figures are best effort: a failed scrape (the server busy
	// or broken) is a warning in the report, not the end of the run.
	base, err := r.sc.Scrape(ctx)
	if err != nil {
		mr.Warnings = append(mr.Warnings, "baseline: "+err.Error())
	}
	s0, err := r.cmdStats(ctx)
	if err != nil {
		return mr, err
	}

	gctx, stopGroups := context.WithCancel(ctx)
	defer stopGroups()
	t0 := time.Now()
	groups, err := r.startGroups(gctx, m, ids)
	mon := newMonitor(r, m, groups, base, t0)
	defer mon.stop()
	if err != nil {
		stopGroups()
		waitGroups(groups)
		return mr, err
	}

	// Phase 1: every waiter connects (or fails to); then all are held.
	tConnected, err := r.connected(ctx, groups)
	if err == nil {
		err = sleep(ctx, cfg.Hold-time.Since(tConnected))
	}
	var s1, s2 probe.CmdStats
	var comps []producer.Completion
	tComplete := time.Now()
	var hub0, hub1 probe.Sample
	var cpu0 cpuReading
	var cpuErr error
	if err == nil {
		hub0 = mon.sampleNow(ctx) // the fullest moment
		s1, err = r.cmdStats(ctx)
		cpu0, cpuErr = r.readCPU(ctx)
	}
	// Phase 2: complete the jobs; waiters end as their job's result arrives.
	if err == nil {
		tComplete = time.Now()
		if r.prod != nil {
			comps, err = r.prod.Complete(ctx, jobs, cfg.Rate)
		}
	}
	tCompleted := time.Now()
	if err != nil {
		stopGroups()
	}
	outs, gerr := waitGroups(groups)
	tDone := time.Now()
	err = cmp.Or(err, gerr)
	if err == nil {
		s2, err = r.cmdStats(ctx)
	}
	if err == nil && cpuErr == nil {
		var cpu1 cpuReading
		if cpu1, cpuErr = r.readCPU(ctx); cpuErr == nil {
			mr.CPU = cpu1.since(cpu0)
		}
	}
	if cpuErr != nil {
		mr.Warnings = append(mr.Warnings, "CPU: "+cpuErr.Error())
	}
	mon.stop()
	if err == nil {
		var serr error
		if hub1, serr = r.sc.Scrape(ctx); serr != nil {
			mr.Warnings = append(mr.Warnings, "after the last waiter: "+serr.Error())
		}
	}

	mr.Phases = report.Phases{
		Connect:  tConnected.Sub(t0).Seconds(),
		Hold:     tComplete.Sub(tConnected).Seconds(),
		Complete: tCompleted.Sub(tComplete).Seconds(),
		Drain:    tDone.Sub(tCompleted).Seconds(),
		Total:    tDone.Sub(t0).Seconds(),
	}
	fillWaiters(&mr, outs, comps, r.prod != nil, sumCounts(groups).Peak)
	producerCmds := 0
	if r.prod != nil {
		mr.Completed, producerCmds = r.prod.Completed(), r.prod.Commands()
	}
	if mr.Phases.Complete > 0 {
		mr.CompletionRate = float64(mr.Completed) / mr.Phases.Complete
	}
	if s2 != nil {
		mr.Redis = redisFigures(s1.Sub(s0), s2.Sub(s1), mr.Completed, producerCmds)
	}
	mon.fill(&mr)
	if hub0.RSS > 0 && hub1.RSS > 0 && mr.Completed > 0 { // both scrapes worked
		mr.Jobwait.HubReads = hub1.HubReads - hub0.HubReads
		mr.Jobwait.HubReadsPerJob = mr.Jobwait.HubReads / float64(mr.Completed)
	}
	return mr, err
}

// jobs returns the ids waiters watch: listed (-ids-file), started over HTTP
// (-create-url), or written by the producer (with the jobs it will complete).
func (r *run) jobs(ctx context.Context, m waiter.Mode) ([]string, []store.Job, error) {
	if len(r.cfg.IDs) > 0 {
		return r.cfg.IDs, nil, nil
	}
	ids := make([]string, r.cfg.Jobs)
	for k := range ids {
		ids[k] = fmt.Sprintf("wl-%s-%s-%d", r.id, m, k)
	}
	if r.creator != nil {
		ids, err := r.creator.Create(ctx, ids) // the ids serve as event drafts
		return ids, nil, err
	}
	jobs, err := r.prod.Create(ctx, ids)
	return ids, jobs, err
}

// cmdStats reads Redis's commands so far; nil without -redis.
func (r *run) cmdStats(ctx context.Context) (probe.CmdStats, error) {
	if r.rdb == nil {
		return nil, nil
	}
	return probe.ReadCmdStats(ctx, r.rdb)
}

// startGroups starts the holders: here, or in -procs processes.
func (r *run) startGroups(ctx context.Context, m waiter.Mode, ids []string) ([]group, error) {
	cfg := r.cfg
	deadline, _ := ctx.Deadline()
	spec := waiter.Spec{
		Mode: m, Server: cfg.Server, Target: cfg.Target, CACert: cfg.CACert, Jobs: ids,
		Budget: cfg.Budget, PollInterval: cfg.PollInterval,
		Sources: cfg.Sources, DialConcurrency: cfg.DialConcurrency, Deadline: deadline,
		JobsPerConn: cfg.JobsPerConn, TokenSecret: cfg.TokenSecret,
	}
	if cfg.Procs == 1 {
		spec.Count = cfg.Waiters
		h, err := waiter.NewHolder(spec)
		if err != nil {
			return nil, err
		}
		h.Start(ctx)
		return []group{h}, nil
	}
	var groups []group
	for p := range cfg.Procs {
		s := spec
		s.First = p * cfg.Waiters / cfg.Procs
		s.Count = (p+1)*cfg.Waiters/cfg.Procs - s.First
		c, err := proc.Start(ctx, s)
		if err != nil {
			return groups, err
		}
		groups = append(groups, c)
	}
	return groups, nil
}

// connected waits until every waiter has made its connection attempt.
func (r *run) connected(ctx context.Context, groups []group) (time.Time, error) {
	for {
		if c := sumCounts(groups); c.Started >= r.cfg.Waiters || c.Done >= r.cfg.Waiters {
			return time.Now(), nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return time.Now(), err
		}
	}
}

// settle waits for the server to let go of the previous mode's waiters and
// goroutines, so that the next mode's baseline is not the last one's peak;
// it gives up quietly after -settle, at once if no figures were read at rest.
func (r *run) settle(ctx context.Context) error {
	if r.rest == (probe.Sample{}) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Settle)
	defer cancel()
	for {
		s, err := r.sc.Scrape(ctx)
		if err == nil && s.Waiters == 0 && s.Goroutines <= r.rest.Goroutines*1.1+8 {
			return nil
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil // still holding some: measure anyway
			}
			return ctx.Err()
		}
	}
}

// sleep waits for d or until the context ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sumCounts(groups []group) waiter.Counts {
	var c waiter.Counts
	for _, g := range groups {
		c = c.Add(g.Counts())
	}
	return c
}

// waitGroups waits for every group and returns all outcomes.
func waitGroups(groups []group) ([]waiter.Outcome, error) {
	var outs []waiter.Outcome
	var errs []error
	for _, g := range groups {
		o, err := g.Wait()
		outs = append(outs, o...)
		errs = append(errs, err)
	}
	return outs, errors.Join(errs...)
}
