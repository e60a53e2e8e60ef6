package fanout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/producer"
	"jobwait/store"
)

// disrupt holds Hold waits, runs the Disrupt command, and times, from its
// start, when the replicas stop being ready and are ready again (every
// subscription confirmed), when Redis holds every channel again and when
// every watched job has been read since; it completes every job, half of
// them as soon as the command returned (while the replicas may still be
// resubscribing), and counts what arrived.
func (r *runner) disrupt(ctx context.Context, res *Result) error {
	m := r.cfg.Hold
	res.Waits = m
	jobs, ss, err := r.watch(ctx, m, "h")
	if err != nil {
		return err
	}
	want, err := r.channels(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "-c", r.cfg.Disrupt)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("-disrupt: %w", err)
	}
	returned := make([]time.Time, m)
	half := m / 2
	// Channels a job (keys mode: its two keys'): a job completed meanwhile
	// may be let go, so what Redis must hold again shrinks as they are.
	var perJob int64
	if want >= 2*int64(m) {
		perJob = 2
	}
	var completed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		pace(ctx, 1000, half, producer.Workers, func(i int) {
			if returned[i] = r.complete(ctx, jobs[i]); !returned[i].IsZero() {
				completed.Add(1)
			}
		})
	})
	var readsAtReady float64
	// Milestones are looked for every 20 ms, for a minute: within the waits' budget.
	_ = poll(ctx, 20*time.Millisecond, time.Minute, func() (bool, error) {
		since := time.Since(start)
		ready := r.ready(ctx)
		switch {
		case !ready && res.Down == 0:
			res.Down = since
		case ready && res.Down != 0 && res.Ready == 0:
			res.Ready = since
			readsAtReady, _ = r.sum(ctx, "jobwait_hub_job_reads_total")
		}
		if ps, err := probe.ReadPubSub(ctx, r.rdb); err == nil && res.Down != 0 && res.Subscribed == 0 && ps.Channels >= want-perJob*completed.Load() {
			res.Subscribed = since
		}
		if res.Ready != 0 && res.ReRead == 0 {
			if reads, err := r.sum(ctx, "jobwait_hub_job_reads_total"); err == nil && reads-readsAtReady >= float64(m) {
				res.ReRead = since
			}
		}
		return res.Ready != 0 && res.Subscribed != 0 && res.ReRead != 0, nil
	})
	wg.Wait()
	pace(ctx, 1000, m-half, producer.Workers, func(i int) { returned[half+i] = r.complete(ctx, jobs[half+i]) })
	_ = waitAll(ctx, ss, time.Minute, false)
	res.collect(ss, returned)
	res.LostBy = r.lostByRedis(ctx, ss, jobs)
	return nil
}

// lostByRedis counts the jobs whose stream got no completion and that
// Redis no longer holds as completed with its result: a write the old
// master acknowledged and dropped when it became a replica (replication is
// asynchronous), which no subscriber could have delivered. (A job whose
// result alone was dropped is answered JOB_003, as it should be.)
func (r *runner) lostByRedis(ctx context.Context, ss []*stream, jobs []store.Job) int {
	var ids []string
	for i, s := range ss {
		if s.got.IsZero() {
			ids = append(ids, jobs[i].JobID)
		}
	}
	if len(ids) == 0 {
		return 0
	}
	snaps, err := r.st.ReadMany(ctx, ids)
	if err != nil {
		return 0
	}
	lost := 0
	for _, sn := range snaps {
		if sn.Err == nil && (sn.Job.Status != store.Completed || sn.Result == nil) {
			lost++
		}
	}
	return lost
}

// channels is how many channels and patterns Redis holds for the replicas
// now, once the count holds still (the last SUBSCRIBEs may be in flight):
// what it must hold again after the disruption.
func (r *runner) channels(ctx context.Context) (int64, error) {
	last := int64(-1)
	err := poll(ctx, 100*time.Millisecond, 10*time.Second, func() (bool, error) {
		ps, err := probe.ReadPubSub(ctx, r.rdb)
		stable := ps.Channels == last
		last = ps.Channels
		return stable, err
	})
	if errors.Is(err, errStill) {
		err = nil
	}
	return last, err
}
