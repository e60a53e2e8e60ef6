package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// readiness records every /readyz answer, polled every 10 ms, so that a
// short red spell is seen.
type readiness struct {
	mu    sync.Mutex
	codes []int
}

func (rd *readiness) watch(ctx context.Context, r *rig) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		code := r.readyCode()
		rd.mu.Lock()
		rd.codes = append(rd.codes, code)
		rd.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// mark is where the next answer will be recorded.
func (rd *readiness) mark() int {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return len(rd.codes)
}

// redThenGreen reports whether the answers since mark include a 503 and
// end with a 200.
func (rd *readiness) redThenGreen(mark int) bool {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	red := false
	for _, c := range rd.codes[mark:] {
		red = red || c == http.StatusServiceUnavailable
		if red && c == http.StatusOK {
			return true
		}
	}
	return false
}

// TestSentinelFailoversLoseNoResult holds long polls and streams on a
// Sentinel-managed primary and fails it over twice: once with SENTINEL
// FAILOVER (the old primary lives on as a replica, and keeps any
// subscription left on it), once by SIGKILL. Jobs are completed before,
// during and after each failover; every waiter whose job was completed
// within its budget gets the result, the others their timeout, none runs
// past its budget, and /readyz goes red and green again each time.
func TestSentinelFailoversLoseNoResult(t *testing.T) {
	t.Parallel()
	const budget = 30 * time.Second
	n := scaled(240, 1200)
	sn := redistest.StartSentinel(t, redistest.SentinelPasswords{})
	rdb := sn.Client(t)
	r := &rig{rdb: rdb, jobs: storetest.NewProducer(rdb, "rel"), http: newHTTPClient(t)}
	r.jw = servertest.Start(t, "REDIS_URL="+sn.URL(), "JOBWAIT_DEMO=false",
		"JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=1s")
	r.jw.WaitReady(t, 15*time.Second)
	jobs := r.jobs.Jobs(t, n)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rd readiness
	go rd.watch(ctx, r)

	// Groups by index mod 6: 0 before the first failover, 1 during it, 2
	// between, 3 during the second, 4 after it, 5 never.
	group := func(g int) []store.Job {
		var out []store.Job
		for i := g; i < len(jobs); i += 6 {
			out = append(out, jobs[i])
		}
		return out
	}
	cs := newCompletions()
	complete := func(j store.Job) {
		// The producer retries while there is no primary.
		for cs.try(j.JobID, func() error { return r.jobs.Complete(ctx, j) }) != nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	during := func(g int) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, j := range group(g) {
				complete(j)
				time.Sleep(10 * time.Millisecond)
			}
		}()
		return done
	}
	// Replication is asynchronous: a write the old primary acknowledged
	// may be lost in a failover. That is Redis's promise, not jobwait's:
	// the producer writes such a job again, and the new write is the one
	// the waiter is owed.
	rewriteLost := func() {
		var lost []store.Job
		for _, j := range jobs {
			if !cs.acknowledged(j.JobID) {
				continue
			}
			snap, err := r.jobs.Read(ctx, j.JobID)
			require.NoError(t, err)
			if snap.Job.Status != store.Completed {
				lost = append(lost, j)
			}
		}
		if len(lost) > 0 {
			t.Logf("%d completions lost in the failover (asynchronous replication); written again", len(lost))
		}
		for _, j := range lost {
			complete(j)
		}
	}

	for _, j := range group(0) {
		complete(j)
	}

	// 1: SENTINEL FAILOVER.
	old := sn.Primary(t)
	mark := rd.mark()
	sn.Failover(t)
	d := during(1)
	sn.WaitPrimaryNot(t, old)
	<-d
	streamtest.Eventually(t, 15*time.Second, "/readyz red and green again after SENTINEL FAILOVER", func() bool { return rd.redThenGreen(mark) })
	sn.WaitHealthy(t)
	rewriteLost()
	for _, j := range group(2) {
		complete(j)
	}

	// 2: SIGKILL of the primary.
	old = sn.Primary(t)
	mark = rd.mark()
	old.Stop()
	d = during(3)
	killed := time.Now()
	sn.WaitPrimaryNot(t, old)
	<-d
	streamtest.Eventually(t, 15*time.Second, "/readyz red and green again after the primary was killed", func() bool { return rd.redThenGreen(mark) })
	t.Logf("ready %v after the primary was killed", time.Since(killed).Round(time.Millisecond))
	rewriteLost()
	for _, j := range group(4) {
		complete(j)
	}

	done := w.Wait(t, budget+2*slack)
	require.Len(t, done, n)
	results, _, _ := cs.judge(t, done, budget, slack)
	assert.GreaterOrEqual(t, results, len(jobs)*5/6-1)
	r.waitHeld(t, 0, 5*time.Second)
}

// TestSentinelPasswords runs jobwait on a Sentinel deployment whose
// sentinels and data nodes have passwords of their own: the URL's for the
// sentinels, ?password= for the data nodes. It answers the three ways to
// wait; with the data nodes' password wrong it never becomes ready.
func TestSentinelPasswords(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, redistest.SentinelPasswords{Data: "data-secret", Sentinel: "sentinel-secret"})
	p := storetest.NewProducer(sn.Client(t), "rep")
	rs := startReplicas(t, []string{sn.URL()})
	answersThreeWays(t, rs, p)

	wrong := servertest.Start(t, "REDIS_URL="+strings.Replace(sn.URL(), "data-secret", "wrong", 1), "JOBWAIT_DEMO=false")
	streamtest.Eventually(t, 10*time.Second, "telling the password is wrong", func() bool {
		return strings.Contains(wrong.Log(), "redis refuses jobwait's credentials")
	})
	assert.NotEqual(t, http.StatusOK, (&rig{jw: wrong}).readyCode())
}

// TestSentinelFrozenPrimary freezes the primary (SIGSTOP: its connections
// stay open, as when it is cut off by the network), so that Sentinel fails
// it over but cannot reach it to kill its clients. jobwait moves its
// subscription to the new primary by itself, as soon as the sentinels name
// it, rather than when the subscription's health check gives up; every
// waiter gets its job's result, written on the new primary.
func TestSentinelFrozenPrimary(t *testing.T) {
	t.Parallel()
	const budget = 30 * time.Second
	sn := redistest.StartSentinel(t, redistest.SentinelPasswords{})
	rdb := sn.Client(t)
	r := &rig{rdb: rdb, jobs: storetest.NewProducer(rdb, "rel"), http: newHTTPClient(t)}
	r.jw = servertest.Start(t, "REDIS_URL="+sn.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET="+budget.String())
	r.jw.WaitReady(t, 15*time.Second)
	jobs := r.jobs.Jobs(t, 40)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)

	old := sn.Primary(t)
	old.Freeze(t)
	t.Cleanup(func() { old.Thaw(t) })
	sn.WaitPrimaryNot(t, old)
	ctx := context.Background()
	for _, j := range jobs {
		for r.jobs.Complete(ctx, j) != nil { // until the producer's client follows
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, o := range w.Wait(t, budget+slack) {
		assert.True(t, o.completed(), "%v", o)
	}
	// The results may come first through the hub's flags check (the new
	// primary lacks notify-keyspace-events, so the hub re-reads while
	// blind). The subscription is then moved by jobwait, once the sentinels
	// name the new primary: closed, not given up by the health check (an
	// i/o timeout after two silent periods).
	moved := regexp.MustCompile(`keyspace subscription lost; reconnecting","err":"[^"]*use of closed network connection`)
	streamtest.Eventually(t, 8*time.Second, "the subscription moved by jobwait", func() bool {
		return moved.MatchString(r.jw.Log())
	})
	log := r.jw.Log()
	assert.Contains(t, log, "sentinel switched the primary: moving to it")
	assert.NotRegexp(t, `keyspace subscription lost; reconnecting","err":"[^"]*i/o timeout`, log)
}
