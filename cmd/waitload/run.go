package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
)

// Run runs each mode of cfg in turn against a running jobwait and returns
// the report. Waiters' troubles are figures in the report; the error is
// for a run that could not be carried out (jobwait or Redis unreachable, a
// producer write failing, a holder process dying). A report of the modes
// finished so far comes with it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Procs == 1 {
		if err := checkNoFile(cfg.Waiters); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	t, _ := parseTarget(cfg.Target)
	opts, _ := redisOptions(cfg.RedisURL)
	opts.PoolSize = producerWorkers + 4
	var rdb redis.UniversalClient
	if strings.Contains(cfg.RedisURL, "addr=") {
		co, _ := redis.ParseClusterURL(cfg.RedisURL)
		co.PoolSize = producerWorkers + 4
		rdb = redis.NewClusterClient(co)
	} else {
		rdb = redis.NewClient(opts)
	}
	defer rdb.Close()

	r := &run{cfg: cfg, rdb: rdb, prod: &producer{st: store.New(rdb), commands: producerCommands}, sc: newScraper(t), id: runID()}
	if cfg.Server == ServerNchan {
		r.prod, r.sc = &producer{st: newNchanPublisher(t)}, newNchanStats(t)
	}
	notify, err := r.sc.notifyMode(ctx)
	if err != nil {
		return nil, err
	}
	if err := warm(ctx, rdb); err != nil {
		return nil, err
	}
	r.rest, _ = r.sc.scrape(ctx) // jobwait at rest, for settle
	rep := newReport(cfg, notify)
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

// run is the state shared by a run's modes.
type run struct {
	cfg  Config
	rdb  redis.UniversalClient
	prod *producer
	sc   serverStats
	id   string // makes this run's job ids its own
	rest sample // jobwait before the first mode
}

// serverStats reads the server's own figures: jobwait's /metrics, or
// Nchan's worker and nchan_stub_status.
type serverStats interface {
	scrape(ctx context.Context) (sample, error)
	notifyMode(ctx context.Context) (string, error)
}

// runID is short, random and a valid part of a job id.
func runID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mode runs one mode: create the jobs, connect every waiter, hold them,
// complete the jobs at the chosen rate, wait for every waiter to end.
func (r *run) mode(ctx context.Context, m Mode) (ModeReport, error) {
	cfg := r.cfg
	mr := ModeReport{Mode: m, Waiters: cfg.Waiters, Jobs: cfg.Jobs}
	ids := make([]string, cfg.Jobs)
	for k := range ids {
		ids[k] = fmt.Sprintf("wl-%s-%s-%d", r.id, m, k)
	}
	jobs, err := r.prod.create(ctx, ids)
	if err != nil {
		return mr, err
	}
	// jobwait's figures are best effort: a scrape that fails (jobwait busy
	// or broken) is a warning in the report, not the end of the run.
	base, err := r.sc.scrape(ctx)
	if err != nil {
		mr.Warnings = append(mr.Warnings, "baseline: "+err.Error())
	}
	s0, err := readCmdStats(ctx, r.rdb)
	if err != nil {
		return mr, err
	}
	r.prod.completed.Store(0)

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
		err = sleepUntil(ctx, tConnected.Add(cfg.Hold))
	}
	var s1, s2 cmdStats
	var comps []completion
	tComplete := time.Now()
	var hub0, hub1 sample
	var cpu0 cpuReading
	var cpuErr error
	if err == nil {
		hub0 = mon.sampleNow(ctx) // the fullest moment
		s1, err = readCmdStats(ctx, r.rdb)
		cpu0, cpuErr = r.readCPU(ctx)
	}
	// Phase 2: complete the jobs; waiters end as their job's result arrives.
	if err == nil {
		tComplete = time.Now()
		comps, err = r.prod.complete(ctx, jobs, cfg.Rate)
	}
	tCompleted := time.Now()
	if err != nil {
		stopGroups()
	}
	outs, gerr := waitGroups(groups)
	tDone := time.Now()
	if err == nil && gerr != nil {
		err = gerr
	}
	if err == nil {
		s2, err = readCmdStats(ctx, r.rdb)
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
		if hub1, serr = r.sc.scrape(ctx); serr != nil {
			mr.Warnings = append(mr.Warnings, "after the last waiter: "+serr.Error())
		}
	}

	mr.Phases = Phases{
		Connect:  secs(tConnected.Sub(t0)),
		Hold:     secs(tComplete.Sub(tConnected)),
		Complete: secs(tCompleted.Sub(tComplete)),
		Drain:    secs(tDone.Sub(tCompleted)),
		Total:    secs(tDone.Sub(t0)),
	}
	mr.fillWaiters(outs, comps, sumCounts(groups).Peak)
	mr.Completed = int(r.prod.completed.Load())
	if mr.Phases.Complete > 0 {
		mr.CompletionRate = float64(mr.Completed) / mr.Phases.Complete
	}
	if s2 != nil {
		mr.Redis = redisFigures(s1.sub(s0), s2.sub(s1), mr.Completed, r.prod.commands)
	}
	mr.Jobwait = mon.figures(mr.HeldPeak)
	mr.Warnings = append(mr.Warnings, mon.warnings()...)
	if hub0.RSS > 0 && hub1.RSS > 0 && mr.Completed > 0 { // both scrapes worked
		mr.Jobwait.HubReads = hub1.HubReads - hub0.HubReads
		mr.Jobwait.HubReadsPerJob = mr.Jobwait.HubReads / float64(mr.Completed)
	}
	return mr, err
}

// startGroups starts the holders: here, or in -procs processes.
func (r *run) startGroups(ctx context.Context, m Mode, ids []string) ([]group, error) {
	cfg := r.cfg
	deadline, _ := ctx.Deadline()
	spec := holdSpec{
		Mode: m, Server: cfg.Server, Target: cfg.Target, Jobs: ids,
		Budget: cfg.Budget, PollInterval: cfg.PollInterval,
		Sources: cfg.Sources, DialConcurrency: cfg.DialConcurrency, Deadline: deadline,
		JobsPerConn: cfg.JobsPerConn,
	}
	if cfg.Procs == 1 {
		spec.Count = cfg.Waiters
		h, err := newHolder(spec)
		if err != nil {
			return nil, err
		}
		h.start(ctx)
		return []group{localGroup{h}}, nil
	}
	var groups []group
	for p := range cfg.Procs {
		s := spec
		s.First = p * cfg.Waiters / cfg.Procs
		s.Count = (p+1)*cfg.Waiters/cfg.Procs - s.First
		g, err := startChild(ctx, s)
		if err != nil {
			return groups, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// connected waits until every waiter has made its connection attempt.
func (r *run) connected(ctx context.Context, groups []group) (time.Time, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c := sumCounts(groups); c.Started >= r.cfg.Waiters || c.Done >= r.cfg.Waiters {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Now(), ctx.Err()
		case <-tick.C:
		}
	}
}

// settle waits for jobwait to let go of the previous mode's waiters and
// their goroutines, so that the next mode's baseline is not the last one's
// peak. It gives up quietly after -settle: the baseline is then what it is.
func (r *run) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Settle)
	defer cancel()
	for {
		s, err := r.sc.scrape(ctx)
		if err == nil && s.Waiters == 0 && s.Goroutines <= r.rest.Goroutines*1.1+8 {
			return nil
		}
		if sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil // still holding some: measure anyway
			}
			return ctx.Err()
		}
	}
}

func sumCounts(groups []group) counts {
	var c counts
	for _, g := range groups {
		c = c.add(g.counts())
	}
	return c
}

// waitGroups waits for every group and returns all outcomes.
func waitGroups(groups []group) ([]outcome, error) {
	var (
		outs []outcome
		errs []error
	)
	for _, g := range groups {
		o, err := g.wait()
		outs = append(outs, o...)
		errs = append(errs, err)
	}
	return outs, errors.Join(errs...)
}

func secs(d time.Duration) float64 { return d.Seconds() }

// monitor scrapes jobwait once a second while a mode runs, keeps the peaks
// and writes a progress line. Its goroutine is stopped and waited for by stop.
type monitor struct {
	r      *run
	mode   Mode
	groups []group
	t0     time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu         sync.Mutex
	base, peak sample
	last       sample
	scrapes    int
	failed     int
	lastErr    error
}

func newMonitor(r *run, m Mode, groups []group, base sample, t0 time.Time) *monitor {
	ctx, cancel := context.WithCancel(context.Background())
	mon := &monitor{r: r, mode: m, groups: groups, t0: t0, cancel: cancel, base: base, peak: base}
	mon.wg.Add(1)
	go mon.loop(ctx)
	return mon
}

func (mon *monitor) loop(ctx context.Context) {
	defer mon.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			mon.sampleNow(ctx)
			mon.progress(mon.r.cfg.Progress)
		}
	}
}

// sampleNow scrapes jobwait and keeps the peaks; a failed scrape (jobwait
// busy) is skipped, and the zero sample returned.
func (mon *monitor) sampleNow(ctx context.Context) sample {
	s, err := mon.r.sc.scrape(ctx)
	mon.mu.Lock()
	defer mon.mu.Unlock()
	mon.scrapes++
	if err != nil {
		mon.failed++
		mon.lastErr = err
		return sample{}
	}
	mon.last = s
	mon.peak.RSS = max(mon.peak.RSS, s.RSS)
	mon.peak.Goroutines = max(mon.peak.Goroutines, s.Goroutines)
	mon.peak.Waiters = max(mon.peak.Waiters, s.Waiters)
	return s
}

func (mon *monitor) progress(w io.Writer) {
	if w == nil {
		return
	}
	c := sumCounts(mon.groups)
	mon.mu.Lock()
	s := mon.last
	mon.mu.Unlock()
	fmt.Fprintf(w, "waitload %-8s %4.0fs  connected %d/%d  held %d  completed %d/%d  delivered %d  timeouts %d  errors %d  | jobwait rss %.1f MiB  goroutines %.0f  waiters %.0f\n",
		mon.mode, time.Since(mon.t0).Seconds(), c.Started, mon.r.cfg.Waiters, c.Held,
		mon.r.prod.completed.Load(), mon.r.cfg.Jobs, c.Delivered, c.TimedOut, c.Errors,
		s.RSS/(1<<20), s.Goroutines, s.Waiters)
}

func (mon *monitor) warnings() []string {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	if mon.failed == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d of %d /metrics scrapes while running failed; last: %v", mon.failed, mon.scrapes, mon.lastErr)}
}

func (mon *monitor) stop() {
	mon.once.Do(func() {
		mon.cancel()
		mon.wg.Wait()
	})
}

// figures are jobwait's baseline and peak, and its memory per held waiter.
func (mon *monitor) figures(held int) Jobwait {
	mon.mu.Lock()
	defer mon.mu.Unlock()
	j := Jobwait{
		RSSBaseline: mon.base.RSS, RSSPeak: mon.peak.RSS,
		GoroutinesBaseline: mon.base.Goroutines, GoroutinesPeak: mon.peak.Goroutines,
		WaitersPeak: mon.peak.Waiters,
	}
	if held > 0 {
		j.BytesPerWaiter = (j.RSSPeak - j.RSSBaseline) / float64(held)
	}
	return j
}
