package main

// Changes Redis announces late or never (notifications switched off or
// narrowed at runtime, flushes) and producers that write a job's result
// after its status: every wait still ends with the truth, within
// JOBWAIT_RESYNC, and a late result within JOBWAIT_RESULT_GRACE never ends
// a wait with JOB_003.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// missedBudget is the wait budget of these tests, far longer than the
// resync interval: a wait answered before it was answered by the hub.
const (
	missedBudget = 20 * time.Second
	missedResync = time.Second
)

// readiness is /readyz's body: its status code, status and notifications.
func (r *rig) readiness(t *testing.T) (int, string, string) {
	t.Helper()
	code, _, body, err := getJSON(r.http, r.jw.URL()+"/readyz")
	if err != nil {
		return 0, "", ""
	}
	s, _ := body["status"].(string)
	n, _ := body["notifications"].(string)
	return code, s, n
}

// watchReadiness records, until the test ends, whether /readyz said blind
// and whether it ever answered other than 200.
func (r *rig) watchReadiness(t *testing.T) (blind, not200 *atomic.Bool) {
	blind, not200 = new(atomic.Bool), new(atomic.Bool)
	streamtest.Run(t, 10*time.Second, "watching /readyz", func(ctx context.Context) {
		for ctx.Err() == nil {
			code, _, n := r.readiness(t)
			if code != 0 && code != http.StatusOK {
				not200.Store(true)
			}
			if n == "blind" {
				blind.Store(true)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return blind, not200
}

// assertAllCompleted checks that every wait ended with its job's result
// before its budget.
func assertAllCompleted(t *testing.T, outs []outcome) {
	t.Helper()
	for _, o := range outs {
		assert.True(t, o.completed(), "%v", o)
		assert.Less(t, o.ended.Sub(o.started), missedBudget/2, "%v: answered by the hub, not at its budget", o)
	}
}

// TestNotificationsNarrowedAtRuntime switches notify-keyspace-events off or
// narrows it while waiters are held, then completes their jobs: jobwait
// finds the flags narrowed, restores them, reads the jobs again, and every
// waiter gets its result well before its budget; /readyz says blind (still
// 200) and then ok again, and short polls answer COMPLETED.
func TestNotificationsNarrowedAtRuntime(t *testing.T) {
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+missedBudget.String(), "JOBWAIT_RESYNC="+missedResync.String())
	ctx := context.Background()
	for _, flags := range []string{"", "Kx", "E$", "Kg", "AE"} {
		t.Run("flags "+flags, func(t *testing.T) {
			episodes := servertest.Metric(r.jw.URL(), "jobwait_hub_blind_episodes_total")
			blind, not200 := r.watchReadiness(t)
			jobs := r.jobs.Jobs(t, 6)
			var w streamtest.Group[outcome]
			r.holdMix(t, &w, jobs, missedBudget)
			require.NoError(t, r.rdb.ConfigSet(ctx, "notify-keyspace-events", flags).Err())
			for _, j := range jobs {
				require.NoError(t, r.jobs.Complete(ctx, j))
			}
			assertAllCompleted(t, w.Wait(t, missedBudget+slack))
			for _, j := range jobs {
				code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID))
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, "COMPLETED", body["status"], "short poll of %s", j.JobID)
			}
			// A wait answered by the read of its subscription's
			// confirmation may end before the flags are checked: they
			// are restored, and the hub blind, within half a resync.
			streamtest.Eventually(t, missedResync, "notify-keyspace-events restored", func() bool {
				have, err := r.rdb.ConfigGet(ctx, "notify-keyspace-events").Result()
				n := have["notify-keyspace-events"]
				return err == nil && n == stream.MergeFlags(n, stream.NotifyFlags)
			})
			streamtest.Eventually(t, missedResync, "a blind episode", func() bool {
				return servertest.Metric(r.jw.URL(), "jobwait_hub_blind_episodes_total") > episodes
			})
			streamtest.Eventually(t, 5*missedResync, "readyz ok again", func() bool {
				code, status, notif := r.readiness(t)
				return code == http.StatusOK && status == "ok" && notif == "ok"
			})
			assert.True(t, blind.Load(), "/readyz said blind")
			assert.False(t, not200.Load(), "/readyz stays 200 while blind")
			assert.Greater(t, servertest.Metric(r.jw.URL(), "jobwait_hub_blind_episodes_total"), episodes)
		})
	}
	assert.Contains(t, r.jw.Log(), "notify-keyspace-events lacks classes jobwait needs")
}

// TestNotificationsNarrowedWhereConfigIsRefused: where jobwait may not use
// CONFIG (renamed, as managed Redis does) or may read but not set it (an
// ACL), nothing can restore the flags: the safety re-read alone answers
// every waiter within the resync interval, and /readyz says blind (still
// 200) until notifications are back: until one is heard, for lack of
// CONFIG GET.
func TestNotificationsNarrowedWhereConfigIsRefused(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		redisArgs []string
		env       []string
		setFlags  func(r *rig) func(string) error // the operator's CONFIG SET
		readable  bool                            // CONFIG GET allowed: the flags' return is seen
	}{
		{"CONFIG renamed", []string{"--rename-command", "CONFIG", "jwconfig"}, []string{"JOBWAIT_NOTIFY=keyspace"},
			func(r *rig) func(string) error {
				return func(f string) error { return r.rdb.Do(ctx, "jwconfig", "set", "notify-keyspace-events", f).Err() }
			}, false},
		{"CONFIG SET denied", []string{"--user", "default", "on", "nopass", "~*", "&*", "+@all", "-config|set",
			"--user", "admin", "on", ">secret", "~*", "&*", "+@all"}, nil,
			func(r *rig) func(string) error {
				admin := redis.NewClient(&redis.Options{Addr: r.redis.Addr(), Username: "admin", Password: "secret"})
				t.Cleanup(func() { admin.Close() })
				return func(f string) error { return admin.ConfigSet(ctx, "notify-keyspace-events", f).Err() }
			}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--notify-keyspace-events", stream.NotifyFlags}, tc.redisArgs...)
			r := newRig(t, args, append(tc.env, "JOBWAIT_WAIT_BUDGET="+missedBudget.String(), "JOBWAIT_RESYNC="+missedResync.String())...)
			setFlags := tc.setFlags(r)
			blind, not200 := r.watchReadiness(t)
			jobs := r.jobs.Jobs(t, 6)
			var w streamtest.Group[outcome]
			r.holdMix(t, &w, jobs, missedBudget)
			require.NoError(t, setFlags(""))
			for _, j := range jobs {
				require.NoError(t, r.jobs.Complete(ctx, j))
			}
			assertAllCompleted(t, w.Wait(t, missedBudget+slack))
			streamtest.Eventually(t, 5*missedResync, "readyz blind", blind.Load)

			// Still blind: a second round is answered at the poll interval.
			jobs = r.jobs.Jobs(t, 4)
			w = streamtest.Group[outcome]{}
			r.holdMix(t, &w, jobs, missedBudget)
			for _, j := range jobs {
				require.NoError(t, r.jobs.Complete(ctx, j))
			}
			assertAllCompleted(t, w.Wait(t, missedBudget+slack))
			_, _, notif := r.readiness(t)
			assert.Equal(t, "blind", notif, "blind while the flags stay narrowed")

			// Where CONFIG GET is refused, a quiet resync interval is
			// no proof: still blind until a notification is heard.
			require.NoError(t, setFlags(stream.NotifyFlags))
			if !tc.readable {
				time.Sleep(2 * missedResync)
				_, _, notif = r.readiness(t)
				assert.Equal(t, "blind", notif, "trusted again with no notification heard")
				// A watched job's write: notifications of the jobs
				// nobody waits for reach no replica (JOBWAIT_SUBSCRIBE=keys).
				jobs = r.jobs.Jobs(t, 1)
				w = streamtest.Group[outcome]{}
				r.holdMix(t, &w, jobs, missedBudget)
				time.Sleep(missedResync / 2) // its channels subscribed
				require.NoError(t, r.jobs.Complete(ctx, jobs[0]))
				assertAllCompleted(t, w.Wait(t, missedBudget+slack))
			}
			streamtest.Eventually(t, 5*missedResync, "readyz ok again", func() bool {
				code, status, notif := r.readiness(t)
				return code == http.StatusOK && status == "ok" && notif == "ok"
			})
			assert.False(t, not200.Load(), "/readyz stays 200 while blind")
			assert.Greater(t, servertest.Metric(r.jw.URL(), "jobwait_hub_blind_episodes_total"), 0.0)
		})
	}
}

// TestFlushesAnswerJobNotFound flushes the jobs of held waiters (FLUSHDB,
// FLUSHALL and SWAPDB publish no keyspace event): long polls get 404
// JOB_001, streams a problem event with JOB_001, well before their budget;
// short polls say JOB_001 within the resync interval.
func TestFlushesAnswerJobNotFound(t *testing.T) {
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+missedBudget.String(), "JOBWAIT_RESYNC="+missedResync.String())
	ctx := context.Background()
	flushes := []struct {
		name  string
		flush func() error
	}{
		{"FLUSHDB", func() error { return r.rdb.FlushDB(ctx).Err() }},
		{"FLUSHALL", func() error { return r.rdb.FlushAll(ctx).Err() }},
		{"SWAPDB", func() error { return r.rdb.Do(ctx, "swapdb", 0, 1).Err() }},
	}
	for _, f := range flushes {
		t.Run(f.name, func(t *testing.T) {
			jobs := r.jobs.Jobs(t, 7)
			var w streamtest.Group[outcome]
			r.holdMix(t, &w, jobs[1:], missedBudget)
			require.NoError(t, f.flush())
			flushed := time.Now()
			// A short poll of a watched job: the hub's knowledge until a
			// safety re-read, then JOB_001.
			for {
				code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), jobs[1].JobID))
				require.NoError(t, err)
				if code == http.StatusNotFound {
					assert.Equal(t, "JOB_001", body["code"])
					break
				}
				require.Equal(t, http.StatusOK, code, "%v", body)
				require.Less(t, time.Since(flushed), missedBudget/2, "short poll still %v", body)
				time.Sleep(50 * time.Millisecond)
			}
			code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), jobs[0].JobID))
			require.NoError(t, err)
			assert.Equal(t, http.StatusNotFound, code, "short poll of an unwatched flushed job: %v", body)
			for _, o := range w.Wait(t, missedBudget+slack) {
				assert.NoError(t, o.err, "%v", o)
				assert.Equal(t, "JOB_001", o.errCode, "%v", o)
				assert.Less(t, o.ended.Sub(o.started), missedBudget/2, "%v: answered by the hub, not at its budget", o)
				if o.kind == "sse" {
					assert.Equal(t, "problem", o.event, "%v", o)
				} else {
					assert.Equal(t, http.StatusNotFound, o.code, "%v", o)
				}
			}
			r.waitHeld(t, 0, 5*time.Second)
		})
	}
}

// completeWithoutResult marks j COMPLETED without writing its result, as a
// producer that writes them in the wrong order does.
func (r *rig) completeWithoutResult(t *testing.T, j store.Job) {
	t.Helper()
	j.Status = store.Completed
	data, err := json.Marshal(j)
	require.NoError(t, err)
	require.NoError(t, r.rdb.Set(context.Background(), store.JobKey(j.JobID), data, store.JobTTL).Err())
}

// writeResult writes j's result.
func (r *rig) writeResult(t *testing.T, j store.Job) {
	res := store.SampleResult(j.EventDraftID)
	res.EventDraftID = j.EventDraftID
	data, err := json.Marshal(res)
	if err == nil {
		err = r.rdb.Set(context.Background(), store.ResultKey(j.EventDraftID), data, store.ResultTTL).Err()
	}
	assert.NoError(t, err)
}

// TestLateResults: a producer marks jobs COMPLETED and writes their results
// 300 ms or 1.5 s later (within JOBWAIT_RESULT_GRACE, 2 s by default). Held
// long polls and streams, and waits that begin after the status was
// written, get the result, never JOB_003. A result that never comes is
// JOB_003 once the grace has passed.
func TestLateResults(t *testing.T) {
	const grace = 2 * time.Second
	r := newRig(t, nil, "JOBWAIT_WAIT_BUDGET="+missedBudget.String())
	for _, late := range []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond} {
		t.Run(late.String()+" held", func(t *testing.T) {
			jobs := r.jobs.Jobs(t, 6)
			var w streamtest.Group[outcome]
			r.holdMix(t, &w, jobs, missedBudget)
			for _, j := range jobs {
				r.completeWithoutResult(t, j)
			}
			time.Sleep(late)
			for _, j := range jobs {
				r.writeResult(t, j)
			}
			assertAllCompleted(t, w.Wait(t, missedBudget+slack))
		})
		t.Run(late.String()+" first read", func(t *testing.T) {
			jobs := r.jobs.Jobs(t, 6)
			for _, j := range jobs {
				r.completeWithoutResult(t, j)
			}
			var w streamtest.Group[outcome]
			for i, j := range jobs {
				switch i % 3 {
				case 0:
					w.Go(func() outcome { return r.longPoll(j.JobID, missedBudget.String(), missedBudget+slack) })
				case 1:
					w.Go(func() outcome { return r.sse(j.JobID, missedBudget+slack, nil) })
				default:
					w.Go(func() outcome {
						o := r.longPoll(j.JobID, "0", missedBudget) // a short poll
						o.kind = "shortpoll"
						return o
					})
				}
			}
			time.Sleep(late)
			for _, j := range jobs {
				r.writeResult(t, j)
			}
			for _, o := range w.Wait(t, missedBudget+slack) {
				if o.kind == "shortpoll" {
					// Held for the grace at most, then the truth: COMPLETED
					// when the result came within it.
					if late < grace {
						assert.Equal(t, "COMPLETED", o.status, "%v", o)
					}
					continue
				}
				assert.True(t, o.completed(), "%v", o)
			}
		})
	}
	t.Run("never", func(t *testing.T) {
		jobs := r.jobs.Jobs(t, 4)
		var w streamtest.Group[outcome]
		r.holdMix(t, &w, jobs, missedBudget)
		for _, j := range jobs {
			r.completeWithoutResult(t, j)
		}
		completed := time.Now()
		for _, o := range w.Wait(t, missedBudget+slack) {
			assert.NoError(t, o.err, "%v", o)
			assert.Equal(t, "JOB_003", o.errCode, "%v", o)
			assert.GreaterOrEqual(t, o.ended.Sub(completed), grace-100*time.Millisecond, "%v: JOB_003 only after the grace", o)
			assert.Less(t, o.ended.Sub(o.started), missedBudget/2, "%v", o)
			if o.kind == "sse" {
				assert.Equal(t, "problem", o.event, "%v", o)
			} else {
				assert.Equal(t, http.StatusBadGateway, o.code, "%v", o)
			}
		}
	})
}

// TestJobKeyOfWrongType: a job key that is neither a string nor a hash is
// a record that is not a job: 502 JOB_003, not 404.
func TestJobKeyOfWrongType(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	writes := map[string]func(key string) error{
		"list": func(k string) error { return r.rdb.RPush(ctx, k, "x").Err() },
		"set":  func(k string) error { return r.rdb.SAdd(ctx, k, "x").Err() },
		"zset": func(k string) error { return r.rdb.ZAdd(ctx, k, redis.Z{Score: 1, Member: "x"}).Err() },
		"stream": func(k string) error {
			return r.rdb.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []string{"status", "COMPLETED"}}).Err()
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			id := "wrongtype-" + name + "-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
			require.NoError(t, write(store.JobKey(id)))
			for _, url := range []string{statusURL(r.jw.URL(), id), statusURL(r.jw.URL(), id) + "?wait=5", streamURL(r.jw.URL(), id)} {
				code, _, body, err := getJSON(r.http, url)
				require.NoError(t, err)
				assert.Equal(t, http.StatusBadGateway, code, "%s: %v", url, body)
				assert.Equal(t, "JOB_003", body["code"], url)
			}
		})
	}
}

// TestNotificationsNarrowedOnCluster switches notifications off on every
// master of a cluster while waiters are held there: jobwait restores them
// on each master and every waiter gets its result before its budget.
func TestNotificationsNarrowedOnCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	cc := c.Client(t)
	p := storetest.NewProducer(cc, "rep")
	rs := startReplicas(t, []string{c.URL()}, "JOBWAIT_RESYNC="+missedResync.String())
	r := rs[0]
	ctx := context.Background()
	jobs := p.Jobs(t, 12)
	var w streamtest.Group[outcome]
	for i, j := range jobs {
		if i%2 == 0 {
			w.Go(func() outcome { return r.longPoll(j.JobID, replicaBudget.String(), replicaBudget+slack) })
		} else {
			w.Go(func() outcome { return r.sse(j.JobID, replicaBudget+slack, nil) })
		}
	}
	r.waitHeld(t, len(jobs), 30*time.Second)
	masters := c.Masters(t)
	for _, m := range masters {
		require.NoError(t, m.Client(t).ConfigSet(ctx, "notify-keyspace-events", "").Err())
	}
	for _, j := range jobs {
		err := p.Complete(ctx, j)
		require.NoError(t, err)
	}
	for _, o := range w.Wait(t, replicaBudget+slack) {
		assert.True(t, o.completed(), "%v", o)
		assert.Less(t, o.ended.Sub(o.started), replicaBudget/2, "%v: answered by the hub, not at its budget", o)
	}
	for _, m := range masters { // each master's settings are checked on a clock of its own
		mc := m.Client(t)
		streamtest.Eventually(t, 5*missedResync, "notifications restored on "+m.Addr(), func() bool {
			n := mc.ConfigGet(ctx, "notify-keyspace-events").Val()["notify-keyspace-events"]
			return n == stream.MergeFlags(n, stream.NotifyFlags)
		})
	}
	streamtest.Eventually(t, 5*missedResync, "readyz ok again", func() bool {
		code, status, notif := r.readiness(t)
		return code == http.StatusOK && status == "ok" && notif == "ok"
	})
}
