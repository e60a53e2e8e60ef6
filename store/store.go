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
	"sync/atomic"
	"time"

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
	// mgetRefused is when Redis last refused an MGET (Unix ns; 0: never):
	// reads then send a GET per key, in the same round trip, for
	// mgetPause, rather than an MGET that is refused at every read.
	mgetRefused atomic.Int64
}

// mgetPause is how long reads do without MGET after Redis refused one.
const mgetPause = time.Minute

// New returns a Store over rdb, which may be a client, a cluster client or a
// ring; pipelines are split by node where they must be.
func New(rdb redis.UniversalClient) *Store {
	_, single := rdb.(*redis.Client)
	return &Store{rdb: rdb, sharded: !single}
}

// UsesMGet reports whether reads send MGET (keys on one node), or a GET
// per key.
func (s *Store) UsesMGet() bool { return !s.sharded }

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
	for _, o := range early {
		if o.both != nil && Refused(o.both.Err()) {
			s.mgetRefused.Store(time.Now().UnixNano())
			break
		}
	}
	var hashes []int
	for i, c := range gets {
		data, err := c.Bytes()
		switch {
		case err == redis.Nil:
			snaps[i].Err = fmt.Errorf("job %s: %w", ids[i], ErrNotFound)
		case isWrongType(err):
			hashes = append(hashes, i)
		case err != nil:
			return nil, failed(c)
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
			return failed(cmds[n])
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
	if s.sharded || time.Since(time.Unix(0, s.mgetRefused.Load())) < mgetPause {
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
			return failed(cmds[i])
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

// failed is the error of a read whose command c failed: ErrRefused when
// Redis refused it, naming the command, its key and what the refusal
// says is missing; ErrUnavailable otherwise.
func failed(c redis.Cmder) error {
	err := c.Err()
	if !Refused(err) {
		return unavailable(err)
	}
	words := make([]string, len(c.Args()))
	for i, a := range c.Args() {
		words[i] = fmt.Sprint(a)
	}
	words[0] = strings.ToUpper(words[0])
	return fmt.Errorf("%w: %s (%s): %w", ErrRefused, strings.Join(words, " "), missingRule(err, c), err)
}

// Refused tells a command Redis refused to run: an ACL without the
// permission (NOPERM), or a command renamed or disabled.
func Refused(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "NOPERM") || strings.HasPrefix(msg, "ERR unknown command") || strings.HasPrefix(msg, "ERR unknown subcommand")
}

// missingRule says which ACL rule the refusal err of c calls for.
func missingRule(err error, c redis.Cmder) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "access one of the keys"):
		return "the user may not read its key: a %R~ key pattern is missing"
	case strings.HasPrefix(msg, "NOPERM"):
		return "the user may not run it: +" + c.Name() + " is missing"
	}
	return "the command is renamed or disabled on the server"
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
