// Package store reads and writes the Redis data of AI recommendation jobs:
// the job record at job:{id} (a JSON string or a hash), the recommendation at
// ai:recommendation:{eventDraftId} and the error message at job:{id}:error.
// It serves both sides: jobwait reads, producers (the demo, tests and the
// load tester) write exactly as the AI service does.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultFailure is a FAILED job's error when job:{id}:error is missing.
const DefaultFailure = "AI 분석 실패"

// Store reads and writes job data in one Redis database or cluster.
type Store struct {
	rdb redis.UniversalClient
	// sharded: keys of one job may live on different nodes (a cluster or
	// a ring), so they cannot be read by one MGET.
	sharded bool
}

// New returns a Store over rdb, which may be a client, a cluster client or a
// ring; pipelines are split by node where they must be.
func New(rdb redis.UniversalClient) *Store {
	_, single := rdb.(*redis.Client)
	return &Store{rdb: rdb, sharded: !single}
}

// Snapshot is one reading of a job. Err is the job's own trouble
// (ErrNotFound, ErrCorrupt, ErrNoResult); Redis trouble fails the whole read.
type Snapshot struct {
	Job    Job
	Result *Result // set when Job.Status is COMPLETED and Err is nil
	Error  string  // set when Job.Status is FAILED
	Err    error
}

// ReadMany reads jobs in at most three pipelined round trips however many
// there are: the records, then the records stored as hashes, then the results
// and error messages of final jobs. The error is ErrUnavailable, wrapped,
// when Redis fails; each snapshot carries its job's own error.
func (s *Store) ReadMany(ctx context.Context, ids []string) ([]Snapshot, error) {
	return s.ReadManyWithDrafts(ctx, ids, nil)
}

// ReadManyWithDrafts reads jobs as ReadMany does, in one round trip where it
// can: drafts[i], when not "", is the eventDraftId job ids[i] had when last
// read, and that draft's recommendation and the job's error message are read
// in the same pipeline as the record. A final job then needs no second trip
// unless its record is a hash (read in a second trip), or its draft is not
// drafts[i], or what was read with the record is missing (read again after
// it, so that a producer's result-then-status order always holds).
func (s *Store) ReadManyWithDrafts(ctx context.Context, ids, drafts []string) ([]Snapshot, error) {
	snaps := make([]Snapshot, len(ids))
	gets := make([]*redis.StringCmd, len(ids))
	early := make([]outcome, len(ids))
	s.pipe(ctx, func(p redis.Pipeliner) {
		for i, id := range ids {
			// The record first: on one node a pipeline runs in order, so
			// a result written before the status is seen with it.
			gets[i] = p.Get(ctx, JobKey(id))
			if i < len(drafts) && drafts[i] != "" {
				early[i] = s.readOutcome(ctx, p, id, drafts[i])
			}
		}
	})
	var hashes []int
	for i, c := range gets {
		data, err := c.Bytes()
		switch {
		case err == redis.Nil:
			snaps[i].Err = fmt.Errorf("job %s: %w", ids[i], ErrNotFound)
		case isWrongType(err):
			hashes = append(hashes, i)
		case err != nil:
			return nil, unavailable(err)
		default:
			snaps[i].Job, snaps[i].Err = decodeJob(ids[i], data)
		}
	}
	if err := s.readHashes(ctx, ids, hashes, snaps); err != nil {
		return nil, err
	}
	if err := s.readOutcomes(ctx, ids, snaps, early); err != nil {
		return nil, err
	}
	return snaps, nil
}

func (s *Store) readHashes(ctx context.Context, ids []string, idx []int, snaps []Snapshot) error {
	if len(idx) == 0 {
		return nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(idx))
	s.pipe(ctx, func(p redis.Pipeliner) {
		for n, i := range idx {
			cmds[n] = p.HGetAll(ctx, JobKey(ids[i]))
		}
	})
	for n, i := range idx {
		h, err := cmds[n].Result()
		switch {
		case isWrongType(err):
			// Neither a string nor a hash (a list, set, zset or stream):
			// a record that is not a job, not a missing one.
			snaps[i].Err = fmt.Errorf("job %s: %w: the key is not a string or a hash", ids[i], ErrCorrupt)
		case err != nil:
			return unavailable(err)
		case len(h) == 0:
			// Deleted between the two reads.
			snaps[i].Err = fmt.Errorf("job %s: %w", ids[i], ErrNotFound)
		default:
			snaps[i].Job, snaps[i].Err = decodeHash(ids[i], h)
		}
	}
	return nil
}

// outcome is a draft's recommendation and a job's error message, read in
// the record's round trip: one MGET on a single node, two GETs where the
// keys may live on different nodes.
type outcome struct {
	draft          string
	both           *redis.SliceCmd  // MGET result error
	result, failed *redis.StringCmd // or each alone
}

// readOutcome queues the reads of job id's outcome, if its draft is draft.
func (s *Store) readOutcome(ctx context.Context, p redis.Pipeliner, id, draft string) outcome {
	if s.sharded {
		return outcome{draft: draft, result: p.Get(ctx, ResultKey(draft)), failed: p.Get(ctx, ErrorKey(id))}
	}
	return outcome{draft: draft, both: p.MGet(ctx, ResultKey(draft), ErrorKey(id))}
}

// values returns what o read: the result and the error message, each nil
// when missing or unreadable; ok is false when o read nothing.
func (o outcome) values() (result, failed []byte, ok bool) {
	switch {
	case o.both != nil:
		v, err := o.both.Result()
		if err != nil || len(v) != 2 {
			return nil, nil, false
		}
		return asBytes(v[0]), asBytes(v[1]), true
	case o.result != nil:
		r, _ := o.result.Bytes()
		f, _ := o.failed.Bytes()
		return r, f, true
	}
	return nil, nil, false
}

// asBytes is an MGET value: a string, or nil for a missing key (or one
// that is not a string).
func asBytes(v any) []byte {
	if str, ok := v.(string); ok {
		return []byte(str)
	}
	return nil
}

// settle gives sn its outcome from o, if o has it: o read the job's draft,
// and found what sn needs.
func (o outcome) settle(id string, sn *Snapshot) bool {
	result, failed, ok := o.values()
	switch {
	case !ok:
		return false
	case sn.Job.Status == Completed && sn.Job.EventDraftID == o.draft:
		if result == nil {
			return false
		}
		sn.Result, sn.Err = decodeResult(id, result)
		return true
	case sn.Job.Status == Failed:
		if len(failed) == 0 {
			return false
		}
		sn.Error = string(failed)
		return true
	}
	return false
}

// readOutcomes reads the recommendation of COMPLETED jobs and the error
// message of FAILED ones, save those early had read already.
func (s *Store) readOutcomes(ctx context.Context, ids []string, snaps []Snapshot, early []outcome) error {
	cmds := make([]*redis.StringCmd, len(ids))
	settled := make([]bool, len(ids))
	final := false
	for i := range snaps {
		if snaps[i].Err == nil && snaps[i].Job.Status.Final() {
			settled[i] = early[i].settle(ids[i], &snaps[i])
			final = final || !settled[i]
		}
	}
	if !final {
		return nil
	}
	s.pipe(ctx, func(p redis.Pipeliner) {
		for i, sn := range snaps {
			switch {
			case sn.Err != nil || settled[i]:
			case sn.Job.Status == Completed && sn.Job.EventDraftID != "":
				cmds[i] = p.Get(ctx, ResultKey(sn.Job.EventDraftID))
			case sn.Job.Status == Failed:
				cmds[i] = p.Get(ctx, ErrorKey(ids[i]))
			}
		}
	})
	for i := range snaps {
		sn := &snaps[i]
		if sn.Err != nil || !sn.Job.Status.Final() || settled[i] {
			continue
		}
		if cmds[i] == nil { // COMPLETED without an eventDraftId
			sn.Err = fmt.Errorf("job %s: %w: no eventDraftId", ids[i], ErrNoResult)
			continue
		}
		data, err := cmds[i].Bytes()
		if err != nil && err != redis.Nil && !isWrongType(err) {
			return unavailable(err)
		}
		switch {
		case sn.Job.Status == Failed && err == nil && len(data) > 0:
			sn.Error = string(data)
		case sn.Job.Status == Failed:
			sn.Error = DefaultFailure
		case err != nil:
			sn.Err = fmt.Errorf("job %s: %w: %v", ids[i], ErrNoResult, err)
		default:
			sn.Result, sn.Err = decodeResult(ids[i], data)
		}
	}
	return nil
}

// pipe runs one pipeline; errors are read from each command, since Exec
// reports a missing key (redis.Nil) as an error too.
func (s *Store) pipe(ctx context.Context, fill func(redis.Pipeliner)) {
	p := s.rdb.Pipeline()
	fill(p)
	_, _ = p.Exec(ctx)
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
