package main

// What watched jobs cost Redis while nothing changes: counted by Redis's
// own INFO commandstats, with thousands of jobs held by real many-job
// streams. A count, not a speed: each bound is commands per batch of jobs
// per tick, whatever the machine's load.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// costJobs is how many jobs the cost tests watch: several poll batches
// (stream.DefaultBatch) and many safety re-read batches.
const costJobs = 3000

// holdJobs writes n PROCESSING jobs and holds them with many-job streams
// of 50 jobs each, until jobwait watches all n.
func (r *rig) holdJobs(t *testing.T, n int) {
	t.Helper()
	jobs := r.jobs.Jobs(t, n)
	for i := 0; i < n; i += 50 {
		ids := make([]string, 0, 50)
		for _, j := range jobs[i:min(i+50, n)] {
			ids = append(ids, j.JobID)
		}
		servertest.MustGet(t, r.jw.Addr, "/api/events/jobs/stream?ids="+strings.Join(ids, ","))
	}
	streamtest.EventuallyEqual(t, 30*time.Second, "watched jobs", float64(n), func() float64 {
		return servertest.Metric(r.jw.URL(), "jobwait_hub_watched_jobs")
	})
}

// jobReads is jobwait's count of jobs read.
func (r *rig) jobReads() float64 {
	return servertest.Metric(r.jw.URL(), "jobwait_hub_job_reads_total")
}

// costWindow is one measurement: Redis's calls by command while jobwait
// read reads jobs, over elapsed.
type costWindow struct {
	calls   redistest.Commands
	reads   float64
	elapsed time.Duration
}

// measure counts Redis's calls while jobwait reads at least reads jobs.
func (r *rig) measure(t *testing.T, reads float64) costWindow {
	t.Helper()
	before, r0, t0 := redistest.ReadCommands(t, r.rdb), r.jobReads(), time.Now()
	streamtest.Eventually(t, 30*time.Second, fmt.Sprintf("%.0f job reads", reads), func() bool { return r.jobReads() >= r0+reads })
	after, r1 := redistest.ReadCommands(t, r.rdb), r.jobReads()
	return costWindow{calls: after.Since(before), reads: r1 - r0, elapsed: time.Since(t0)}
}

// ticks is how many times every one of n watched jobs was read in w: the
// ticks of poll mode or of polling, counted by jobwait's own reads.
func (w costWindow) ticks(n int) int { return int(w.reads)/n + 1 }

// perJob is w's commands per second per watched job, for the log.
func (w costWindow) perJob(n int) float64 {
	return float64(w.calls.Total()) / w.elapsed.Seconds() / float64(n)
}

func (w costWindow) String() string {
	return fmt.Sprintf("%d commands (%v) in %v, %.0f job reads", w.calls.Total(), w.calls, w.elapsed.Round(time.Millisecond), w.reads)
}

// every is how many times something done every d may be done in w.
func (w costWindow) every(d time.Duration) int { return int(w.elapsed/d) + 1 }

// silence is how long a subscription may be silent before jobwait pings
// Redis through it.
const silence = 5 * time.Second

// checked is what the readiness check (one pipeline a second, see
// checker) may send in w under notify mode mode: every command it queues.
func (w costWindow) checked(mode stream.Mode) int {
	n := 0
	for _, pm := range redisconn.Of(redis.NewClient(&redis.Options{})).Permissions(mode, stream.DefaultSubscribe) {
		if pm.Checked() {
			n++
		}
	}
	return w.every(time.Second) * n
}

// batches is ceil(n/size).
func batches(n, size int) int { return (n + size - 1) / size }

// TestRedisCostOfWatchedJobs: while nothing changes, jobwait's commands to
// Redis grow with the batches of watched jobs it reads, not with the jobs:
// in poll mode one MGET per batch of up to 512 jobs and one PING per tick;
// while blind one MGET per safety re-read batch of up to 64 at every poll
// interval; at rest in keyspace mode one MGET per batch of the jobs whose
// last read is JOBWAIT_RESYNC old. Besides, in keyspace mode, CONFIG GET
// twice per JOBWAIT_RESYNC, a PING through the subscription after 5 s of
// silence, and once per held job the PTTL of its time to live; and in
// every mode the readiness check's pipeline once a second.
// The figures of README come from its log (go test -run
// TestRedisCostOfWatchedJobs -v ./cmd/jobwait/).
func TestRedisCostOfWatchedJobs(t *testing.T) {
	const n = costJobs
	t.Run("poll", func(t *testing.T) {
		r := newRig(t, nil, "JOBWAIT_NOTIFY=poll")
		r.holdJobs(t, n)
		w := r.measure(t, 8*n)
		t.Logf("poll mode, %d watched jobs: %v: %.0f commands/s, %.4f per watched job", n, w, w.perJob(n)*n, w.perJob(n))
		bound := w.ticks(n)*(batches(n, stream.DefaultBatch)+1) + w.checked(stream.Poll)
		assert.LessOrEqual(t, w.calls.Total(), int64(bound), "at most an MGET per batch and a PING per tick: %v", w)
	})
	t.Run("blind", func(t *testing.T) {
		const resync = 10 * time.Second
		r := newRig(t, nil, "JOBWAIT_RESYNC="+resync.String())
		r.holdJobs(t, n)
		// Notifications switched off: jobwait finds them lacking within
		// resync/2, restores them and is blind for a resync after.
		require.NoError(t, r.rdb.ConfigSet(context.Background(), "notify-keyspace-events", "").Err())
		streamtest.EventuallyEqual(t, resync, "blind", 1.0, func() float64 { return servertest.Metric(r.jw.URL(), "jobwait_hub_blind") })
		r.measure(t, 2*n) // the re-read of every job on restoring, then a poll
		w := r.measure(t, 8*n)
		require.Equal(t, 1.0, servertest.Metric(r.jw.URL(), "jobwait_hub_blind"), "blind throughout: %v", w)
		t.Logf("blind, %d watched jobs: %v: %.0f commands/s, %.4f per watched job", n, w, w.perJob(n)*n, w.perJob(n))
		bound := w.ticks(n)*batches(n, stream.SweepBatch) + w.every(resync/2) + w.every(silence) + w.checked(stream.Auto)
		assert.LessOrEqual(t, w.calls.Total(), int64(bound), "at most an MGET per safety re-read batch per poll interval: %v", w)
	})
	t.Run("keyspace at rest", func(t *testing.T) {
		r := newRig(t, nil)
		r.holdJobs(t, n)
		// Each held job's time to live is looked up once, at the guard's
		// first tick after it came.
		streamtest.Eventually(t, 10*time.Second, "every time to live looked up", func() bool {
			return redistest.ReadCommands(t, r.rdb)["pttl"] >= n
		})
		w := r.measure(t, 2*n) // every job re-read twice, once per resync
		t.Logf("keyspace mode at rest, %d watched jobs: %v: %.1f commands/s, %.4f per watched job", n, w, w.perJob(n)*n, w.perJob(n))
		// Each tick's batches: the jobs' share, and one part-filled.
		bound := int(w.reads)/stream.SweepBatch + w.every(stream.DefaultResync/10) + w.every(stream.DefaultResync/2) + w.every(silence) + w.checked(stream.Auto)
		assert.LessOrEqual(t, w.calls.Total(), int64(bound), "at most an MGET per safety re-read batch per tick: %v", w)
	})
}
