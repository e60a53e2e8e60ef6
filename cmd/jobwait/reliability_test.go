package main

// Reliability tests: faults of Redis, of the network and of clients, and
// shutdown, each against the real jobwait binary on a private redis-server.
// They prove jobwait's promise: a result written to Redis reaches every
// waiter still within its budget, nothing waits longer than the budget, and
// no client can hold up another.
//
// Counts are small in the normal suite (a few hundred waiters, about 45 s
// with -race, the slow ones in parallel). Run the large versions (a
// thousand waiters through a Redis restart, three thousand through SIGTERM,
// six hundred through killed subscriptions, a thousand vanished clients)
// with
//
//	JOBWAIT_STRESS=1 go test -race -run 'Test(Redis|PubSub|Starts|Slow|Vanish|Stalled|SIGTERM|Job)' -v ./cmd/jobwait

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// slack is what a wait may run past its budget: scheduling, the HTTP round
// trip, a busy test machine. Every "none hangs" check is budget + slack.
const slack = 3 * time.Second

// persistent makes the private Redis keep its data through a restart, as a
// production Redis with AOF does: every write is on disk before it is
// acknowledged.
var persistent = []string{"--appendonly", "yes", "--appendfsync", "always"}

// holdMix opens one wait per job, long polls and streams alternating, and
// returns once jobwait holds them all and has read each job for them: every
// wait has its job's first state.
func (r *rig) holdMix(t *testing.T, w *streamtest.Group[outcome], jobs []store.Job, budget time.Duration) {
	t.Helper()
	reads := r.hubReads()
	var opened sync.WaitGroup
	for i, j := range jobs {
		if i%2 == 0 {
			w.Go(func() outcome { return r.longPoll(j.JobID, budget.String(), budget+slack) })
		} else {
			opened.Add(1)
			w.Go(func() outcome { return r.sse(j.JobID, budget+slack, opened.Done) })
		}
	}
	r.waitFirstStates(t, len(jobs), reads, 30*time.Second)
	opened.Wait()
}

// TestRedisRestartLosesNoResult restarts Redis under held waiters. Jobs are
// completed just before the restart, while Redis comes back (written as
// soon as it accepts), and after jobwait is ready again; the rest never
// complete. Every waiter whose job was completed within its budget gets
// the result, every other one its timeout, none runs past its budget, and
// /readyz says 503 while Redis is away.
func TestRedisRestartLosesNoResult(t *testing.T) {
	t.Parallel()
	budget := time.Duration(scaled(8, 15)) * time.Second
	n := scaled(200, 1000)
	r := newRig(t, persistent, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=1s")
	jobs := r.jobs.Jobs(t, n)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)

	// Groups by index mod 4: 0 before the restart, 1 as Redis comes back,
	// 2 after jobwait is ready again, 3 never.
	group := func(g int) []store.Job {
		var out []store.Job
		for i := g; i < len(jobs); i += 4 {
			out = append(out, jobs[i])
		}
		return out
	}
	ctx := context.Background()
	cs := newCompletions()
	complete := func(j store.Job) error {
		return cs.try(j.JobID, func() error { return r.jobs.Complete(ctx, j) })
	}
	for _, j := range group(0) {
		require.NoError(t, complete(j))
	}

	r.redis.Stop()
	streamtest.Eventually(t, 10*time.Second, "/readyz 503 with Redis gone", func() bool { return r.readyCode() == http.StatusServiceUnavailable })
	code, h, body, err := getJSON(r.http, statusURL(r.jw.URL(), jobs[0].JobID))
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, code, "short poll with Redis gone")
	assert.Equal(t, "SVC_002", body["code"])
	assert.NotEmpty(t, h.Get("Retry-After"))

	// The producer retries until Redis takes the writes.
	during := make(chan struct{})
	go func() {
		defer close(during)
		for _, j := range group(1) {
			for complete(j) != nil {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	r.redis.Resume(t)
	resumed := time.Now()
	select {
	case <-during:
	case <-time.After(10 * time.Second):
		t.Fatal("producer could not write after Redis came back")
	}
	streamtest.Eventually(t, 15*time.Second, "/readyz 200 with Redis back", func() bool { return r.readyCode() == http.StatusOK })
	t.Logf("ready %v after Redis came back", time.Since(resumed).Round(time.Millisecond))
	for _, j := range group(2) {
		require.NoError(t, complete(j))
	}

	done := w.Wait(t, budget+2*slack)
	require.Len(t, done, n)
	results, _, _ := cs.judge(t, done, budget, slack)
	assert.Positive(t, results)
	r.waitHeld(t, 0, 5*time.Second)
}

// TestPubSubKilledRepeatedly kills jobwait's subscription connection over
// and over while a producer completes jobs at a steady rate: every waiter
// still gets its result.
func TestPubSubKilledRepeatedly(t *testing.T) {
	const budget = 20 * time.Second
	n := scaled(120, 600)
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	jobs := r.jobs.Jobs(t, n)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var kills atomic.Int64
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		tick := time.NewTicker(120 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				k, _ := r.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
				kills.Add(k)
			}
		}
	}()
	// A steady stream: one completion every 15 ms, over the kills.
	for _, j := range jobs {
		require.NoError(t, r.jobs.Complete(ctx, j))
		time.Sleep(15 * time.Millisecond)
	}
	done := w.Wait(t, budget+slack)
	cancel()
	<-killed
	require.Len(t, done, n)
	for _, o := range done {
		assert.True(t, o.completed(), "%v", o)
		assert.Less(t, o.ended.Sub(o.started), budget, "%v: answered on completion, not on its budget", o)
	}
	assert.Greater(t, kills.Load(), int64(5), "subscriptions killed")
	t.Logf("%d waits, %d subscription kills", n, kills.Load())

	// The flapping is logged, not every flap: a loss line at the start and
	// one per 10 s after it, one more if a reconnect was itself killed for a
	// whole second; and the log ends on the subscription being live.
	streamtest.Eventually(t, 10*time.Second, "the log ending on live", func() bool {
		log := r.jw.Log()
		return strings.LastIndex(log, "keyspace subscription live") > strings.LastIndex(log, "keyspace subscription lost")
	})
	lostLines := strings.Count(r.jw.Log(), "keyspace subscription lost")
	assert.GreaterOrEqual(t, lostLines, 1, "the first loss logged")
	assert.LessOrEqual(t, lostLines, 3+int(time.Duration(n)*15*time.Millisecond/(10*time.Second)), "losses logged, of %d kills", kills.Load())
}

// TestStartsWithoutRedis starts jobwait while Redis is down: it serves,
// says so in the log, answers SVC_002, and becomes ready and useful once
// Redis appears.
func TestStartsWithoutRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	srv.Stop()
	jw := servertest.Start(t, "REDIS_URL="+srv.URL(), "JOBWAIT_DEMO=false", "JOBWAIT_WAIT_BUDGET=5s")
	r := &rig{redis: srv, jw: jw, http: newHTTPClient(t)}

	streamtest.Eventually(t, 5*time.Second, "logging that Redis is unreachable", func() bool {
		return strings.Contains(jw.Log(), "redis unreachable")
	})
	assert.Equal(t, http.StatusServiceUnavailable, r.readyCode(), "/readyz without Redis")
	var wg sync.WaitGroup
	for _, path := range []string{"/status", "/status?wait=5", "/stream"} {
		wg.Go(func() {
			start := time.Now()
			code, h, body, err := getJSON(r.http, r.jw.URL()+"/api/events/jobs/some-job"+path)
			if !assert.NoError(t, err, path) {
				return
			}
			assert.Equal(t, http.StatusServiceUnavailable, code, path)
			assert.Equal(t, "SVC_002", body["code"], path)
			assert.NotEmpty(t, h.Get("Retry-After"), path)
			assert.Less(t, time.Since(start), 4*time.Second, "%s answered within the Redis timeout", path)
		})
	}
	wg.Wait()

	srv.Resume(t)
	jw.WaitReady(t, 15*time.Second)
	r.rdb = srv.Client(t)
	r.jobs = storetest.NewProducer(r.rdb, "rel")
	j := r.jobs.Jobs(t, 1)[0]
	got := make(chan outcome, 1)
	go func() { got <- r.longPoll(j.JobID, "5", 5*time.Second+slack) }()
	r.waitHeld(t, 1, 5*time.Second)
	require.NoError(t, r.jobs.Complete(context.Background(), j))
	o := <-got
	assert.True(t, o.completed(), "%v", o)
}

// TestSlowRedisHoldsNoOneLong freezes Redis (DEBUG SLEEP) for longer than
// any wait may last: every request is answered within the wait budget plus
// the Redis timeout, what does not touch Redis is not slowed at all, and
// /readyz, which answers from jobwait's own checks at once, says 503 while
// Redis is still frozen.
func TestSlowRedisHoldsNoOneLong(t *testing.T) {
	t.Parallel()
	const (
		budget       = 2 * time.Second
		redisTimeout = 3 * time.Second // server.DefaultRedisTimeout
		frozen       = 8 * time.Second
	)
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=1s")
	j := r.jobs.Jobs(t, 1)[0]

	sleeper := redis.NewClient(&redis.Options{Addr: r.redis.Addr(), ReadTimeout: 2 * frozen})
	defer sleeper.Close()
	// The probe's timeouts must hold on a frozen server: its connection is
	// made beforehand and its deadlines bound its reads.
	probe := redis.NewClient(&redis.Options{Addr: r.redis.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer probe.Close()
	require.NoError(t, probe.Ping(context.Background()).Err())
	frozenAt := time.Now()
	slept := make(chan error, 1)
	go func() { slept <- sleeper.Do(context.Background(), "DEBUG", "SLEEP", frozen.Seconds()).Err() }()
	streamtest.Eventually(t, 5*time.Second, "Redis frozen", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		return probe.Ping(ctx).Err() != nil
	})

	type answer struct {
		what string
		took time.Duration
		err  error
		code int
	}
	got := make(chan answer, 8)
	ask := func(what, url string) {
		go func() {
			start := time.Now()
			c := http.Client{Timeout: frozen}
			resp, err := c.Get(url)
			a := answer{what: what, err: err}
			if err == nil {
				a.code = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			a.took = time.Since(start)
			got <- a
		}()
	}
	ask("short poll", statusURL(r.jw.URL(), j.JobID))
	ask("long poll", statusURL(r.jw.URL(), j.JobID)+"?wait=2")
	ask("stream", streamURL(r.jw.URL(), j.JobID))
	ask("readyz", r.jw.URL()+"/readyz")
	ask("healthz", r.jw.URL()+"/healthz")
	for range 5 {
		select {
		case a := <-got:
			t.Logf("%s with Redis frozen: %d after %v", a.what, a.code, a.took.Round(time.Millisecond))
			require.NoError(t, a.err, a.what)
			switch a.what {
			case "healthz":
				assert.Equal(t, 200, a.code)
				assert.Less(t, a.took, time.Second, "healthz does not touch Redis")
			case "readyz":
				// It answers from the last check: 200 or already 503.
				assert.Less(t, a.took, time.Second, "readyz never waits on Redis")
			case "stream", "long poll":
				// SVC_002 when the first read fails, else a wait that
				// ends on its budget: never longer than both.
				assert.Contains(t, []int{200, 503}, a.code, a.what)
				assert.Less(t, a.took, budget+redisTimeout+time.Second, "%s answered within budget + Redis timeout", a.what)
			default:
				assert.Equal(t, 503, a.code, a.what)
				assert.Less(t, a.took, redisTimeout+time.Second, "%s answered within the Redis timeout", a.what)
			}
		case <-time.After(frozen):
			t.Fatal("a request hung while Redis was frozen")
		}
	}
	streamtest.Eventually(t, frozen, "readyz 503 with Redis frozen", func() bool { return r.readyCode() == http.StatusServiceUnavailable })
	assert.Less(t, time.Since(frozenAt), frozen, "all answered, and readyz 503, while Redis was still frozen")
	require.NoError(t, <-slept)
	r.jw.WaitReady(t, 15*time.Second)
	code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID))
	require.NoError(t, err)
	assert.Equal(t, 200, code)
	assert.Equal(t, "PENDING", body["status"])
}

// TestVanishedClientsAreReleased: clients that close their connection in
// the middle of a wait, or only their sending half (half-open: jobwait
// takes the end of the request stream for a client that left, as nginx
// does), cost nothing for long: their waiters, streams and long polls
// alike, are released by the next heartbeat, well before their budget,
// and a normal waiter is answered as usual meanwhile. (A client that
// vanishes without a FIN is a stalled reader: see
// TestStalledReadersDoNotDelayOthers.)
func TestVanishedClientsAreReleased(t *testing.T) {
	const budget = 20 * time.Second
	n := scaled(50, 500)
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=1s")
	jobs := r.jobs.Jobs(t, 2*n+1)
	var conns []net.Conn
	for i := range 2 * n {
		path := "/api/events/jobs/" + jobs[i].JobID + "/stream"
		if i%2 == 1 {
			path = "/api/events/jobs/" + jobs[i].JobID + "/status?wait=20"
		}
		conns = append(conns, rawRequest(t, r.jw.Addr, servertest.RawGet(path)))
	}
	r.waitHeld(t, 2*n, 10*time.Second)
	for i, c := range conns {
		if i%4 < 2 {
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
		} else {
			c.Close()
		}
	}
	start := time.Now()
	r.waitHeld(t, 0, 5*time.Second)
	t.Logf("%d vanished waiters released after %v", 2*n, time.Since(start).Round(time.Millisecond))

	last := jobs[2*n]
	got := make(chan outcome, 1)
	go func() { got <- r.longPoll(last.JobID, "20", budget+slack) }()
	r.waitHeld(t, 1, 5*time.Second)
	require.NoError(t, r.jobs.Complete(context.Background(), last))
	o := <-got
	assert.True(t, o.completed(), "%v", o)
}

// TestVanishedLongPollsEndOnBudget: with a heartbeat longer than the
// budget, a vanished client's long poll is released on its budget at the
// latest.
func TestVanishedLongPollsEndOnBudget(t *testing.T) {
	t.Parallel()
	const budget = 2 * time.Second
	n := scaled(50, 500)
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=60s")
	var conns []net.Conn
	for _, j := range r.jobs.Jobs(t, n) {
		conns = append(conns, rawRequest(t, r.jw.Addr, servertest.RawGet("/api/events/jobs/"+j.JobID+"/status?wait=30")))
	}
	r.waitHeld(t, n, 10*time.Second)
	for _, c := range conns {
		c.Close()
	}
	r.waitHeld(t, 0, budget+slack)
}

// TestStalledReadersDoNotDelayOthers opens many streams and long polls
// that never read, with a tiny receive buffer, on a job whose result is
// megabytes long: their writes block on full socket buffers. Meanwhile a
// normal waiter is answered at once, and every stalled waiter is released
// by the write timeout.
func TestStalledReadersDoNotDelayOthers(t *testing.T) {
	t.Parallel()
	const budget = 3 * time.Second
	n := scaled(40, 200) // each holds a copy of the 5 MB answer while stalled
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_HEARTBEAT=1s", "JOBWAIT_MIN_READ_RATE=1048576")
	ctx := context.Background()
	big := r.jobs.Jobs(t, 1)[0]
	for i := range n {
		c, err := smallReadBuffer.Dial("tcp", r.jw.Addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		path := "/api/events/jobs/" + big.JobID + "/stream"
		if i%2 == 1 {
			path = "/api/events/jobs/" + big.JobID + "/status?wait=30"
		}
		_, err = c.Write([]byte(servertest.RawGet(path)))
		require.NoError(t, err)
	}
	r.waitHeld(t, n, 10*time.Second)

	// 5 MB of trend analysis: more than the socket buffers hold (Linux
	// grows a send buffer to 4 MB at most).
	r.completeBig(t, big, 5<<20)

	normal := r.jobs.Jobs(t, 1)[0]
	got := make(chan outcome, 1)
	go func() { got <- r.longPoll(normal.JobID, "3", budget+slack) }()
	streamtest.Eventually(t, 5*time.Second, "the normal waiter held", func() bool {
		code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), normal.JobID))
		return err == nil && code == 200 && body["status"] == "PENDING" && heldWaiters(r.jw.URL()) >= 1
	})
	written := time.Now()
	require.NoError(t, r.jobs.Complete(ctx, normal))
	o := <-got
	assert.True(t, o.completed(), "the normal waiter, beside %d stalled ones: %v", n, o)
	assert.Positive(t, heldWaiters(r.jw.URL()), "stalled writes still blocked when the normal waiter was answered")
	t.Logf("normal waiter answered %v after its job completed, beside %d stalled readers", o.ended.Sub(written).Round(time.Millisecond), n)

	// Stalled writes are cut off by the response's deadline: the wait's
	// end + 5 s + 5 MB at 1 MB/s.
	r.waitHeld(t, 0, time.Until(heldDeadline(written.Add(budget), 5<<20, 1<<20))+slack)
	t.Logf("%d stalled readers released %v after their job completed", n, time.Since(written).Round(time.Millisecond))
}

// TestSIGTERMAnswersEveryone sends SIGTERM with waiters held: every long
// poll is answered with the job's current state and every stream is cut,
// as a dropped connection, within a few seconds, and jobwait exits 0.
func TestSIGTERMAnswersEveryone(t *testing.T) {
	const budget = 30 * time.Second
	n := scaled(300, 3000)
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	jobs := r.jobs.Jobs(t, n)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)

	sent := time.Now()
	require.NoError(t, r.jw.Signal(syscall.SIGTERM))
	done := w.Wait(t, 10*time.Second)
	require.Len(t, done, n)
	for _, o := range done {
		assert.Less(t, o.ended.Sub(sent), 6*time.Second, "%v", o)
		if o.kind == "longpoll" {
			assert.True(t, o.err == nil && o.code == 200 && o.status == "PENDING" && !o.timedOut, "long poll answered with the current state: %v", o)
		} else {
			assert.True(t, errors.Is(o.err, io.ErrUnexpectedEOF) && o.code == 200 && o.event == "status",
				"stream cut as if dropped (no final event, no last chunk): %v", o)
		}
	}
	require.NoError(t, r.jw.Wait(10*time.Second), "jobwait exits 0")
	t.Logf("%d waiters answered, jobwait exited %v after SIGTERM", n, time.Since(sent).Round(time.Millisecond))
}

// TestJobVanishesUnderWaiters deletes, expires and loses (in a restart
// without persistence) jobs that waiters hold: long polls are answered
// JOB_001, streams end with a problem event holding JOB_001, at once, not
// at their budget.
func TestJobVanishesUnderWaiters(t *testing.T) {
	const budget = 20 * time.Second
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+budget.String())
	ctx := context.Background()
	vanish := map[string]func(t *testing.T, jobs []store.Job){
		"deleted": func(t *testing.T, jobs []store.Job) {
			for _, j := range jobs {
				require.NoError(t, r.rdb.Del(ctx, store.JobKey(j.JobID)).Err())
			}
		},
		"expired": func(t *testing.T, jobs []store.Job) {
			for _, j := range jobs {
				require.NoError(t, r.rdb.PExpire(ctx, store.JobKey(j.JobID), 300*time.Millisecond).Err())
			}
		},
		"lost in a restart": func(t *testing.T, jobs []store.Job) {
			r.redis.Restart(t)
		},
	}
	for _, name := range []string{"deleted", "expired", "lost in a restart"} {
		t.Run(name, func(t *testing.T) {
			jobs := r.jobs.Jobs(t, 10)
			var w streamtest.Group[outcome]
			r.holdMix(t, &w, jobs, budget)
			vanish[name](t, jobs)
			for _, o := range w.Wait(t, 15*time.Second) {
				assert.NoError(t, o.err, "%v", o)
				assert.Equal(t, "JOB_001", o.errCode, "%v", o)
				assert.Less(t, o.ended.Sub(o.started), budget/2, "%v: answered at once, not at its budget", o)
				if o.kind == "sse" {
					assert.Equal(t, "problem", o.event, "%v", o)
				} else {
					assert.Equal(t, http.StatusNotFound, o.code, "%v", o)
				}
			}
			r.waitHeld(t, 0, 5*time.Second)
			r.jw.WaitReady(t, 15*time.Second)
		})
	}
}
