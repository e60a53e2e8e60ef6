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

// Errors a read returns, wrapped with the job id; callers test with errors.Is.
var (
	// ErrNotFound: there is no job record (never written, deleted or expired).
	ErrNotFound = errors.New("job not found")
	// ErrCorrupt: the job record exists but cannot be read as a job.
	ErrCorrupt = errors.New("job record unreadable")
	// ErrNoResult: the job is COMPLETED but its recommendation is missing or unreadable.
	ErrNoResult = errors.New("completed job has no readable result")
	// ErrUnavailable: Redis could not be reached or did not answer in time.
	ErrUnavailable = errors.New("redis unavailable")
	// ErrRefused: Redis refused a command (an ACL, a renamed or disabled
	// command); the wrapping error names the command, its key and the rule.
	ErrRefused = errors.New("redis refused jobwait's command")
)

// Store reads and writes job data in one Redis database or cluster.
type Store struct {
	rdb     redis.UniversalClient
	sharded bool // one job's keys may live on different nodes: no MGET
	// When Redis last refused an MGET or a PTTL (Unix ns; 0: never): for
	// refusalPause after, reads send a GET per key and look up no time to
	// live, rather than meet the refusal at every read.
	mgetRefused, pttlRefused atomic.Int64
}

// refusalPause is how long the store does without a refused command.
const refusalPause = time.Minute

func refusedLately(t *atomic.Int64) bool {
	at := t.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < refusalPause
}

// Redis is what a Store needs of store/redisconn's Conn: its client, and
// whether one job's keys may live on different nodes (a Cluster).
type Redis interface {
	Client() redis.UniversalClient
	Sharded() bool
}

// Open returns a Store over r.
func Open(r Redis) *Store { return &Store{rdb: r.Client(), sharded: r.Sharded()} }

// New returns a Store over rdb, a client of one node that holds every key,
// for producers and tests.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Snapshot is one reading of a job. Err is the job's own trouble
// (ErrNotFound, ErrCorrupt, ErrNoResult); Redis trouble fails the whole read.
type Snapshot struct {
	Job    Job
	Result *Result // set when Job.Status is COMPLETED and Err is nil
	Error  string  // set when Job.Status is FAILED
	Err    error
}

// Hints are what a read that expects a change fetches with the records.
type Hints struct {
	// Drafts[i], when not "", is the eventDraftId job ids[i] had when last
	// read: its recommendation and error message are read with the record,
	// saving a final job a second round trip unless they do not fit (then
	// they are read after the record, as a producer writes them before).
	Drafts []string
}

// ReadMany reads jobs in as few commands as it can: the records (one MGET
// per 512 on a single node, a GET each on a cluster), then the records
// that are not strings (HGETALL each), then the results and error messages
// of final jobs. The error is ErrUnavailable or ErrRefused, wrapped, when
// Redis fails; each snapshot carries its job's own error.
func (s *Store) ReadMany(ctx context.Context, ids []string) ([]Snapshot, error) {
	return s.ReadManyWith(ctx, ids, Hints{})
}

// ReadManyWith reads jobs as ReadMany does, with what h asks for read in
// the records' round trip.
func (s *Store) ReadManyWith(ctx context.Context, ids []string, h Hints) ([]Snapshot, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = JobKey(id)
	}
	var hinted []string
	for i, d := range h.Drafts {
		if d != "" && i < len(ids) {
			hinted = append(hinted, ResultKey(d), ErrorKey(ids[i]))
		}
	}
	// The records first: on one node a pipeline runs in order, so a
	// result written before the status is seen with it.
	g := s.readKeys(ctx, true, keys, hinted)
	vals, err := g[0].values()
	if err != nil {
		return nil, err
	}
	snaps := make([]Snapshot, len(ids))
	var others []int
	for i, v := range vals {
		if !place(&snaps[i], ids[i], v) {
			others = append(others, i)
		}
	}
	if err := s.readOthers(ctx, ids, others, snaps); err != nil {
		return nil, err
	}
	var early map[string]value
	if hv, err := g[1].values(); err == nil && len(hinted) > 0 {
		early = make(map[string]value, len(hinted))
		for n, k := range hinted {
			early[k] = hv[n]
		}
	}
	if err := s.readOutcomes(ctx, ids, snaps, early); err != nil {
		return nil, err
	}
	return snaps, nil
}

// readKeys reads each list of string keys in one pipeline, by MGET where
// mget allows (see queueGets). A refused MGET is noted and the whole read
// made again with GETs.
func (s *Store) readKeys(ctx context.Context, mget bool, lists ...[]string) []gets {
	mget = mget && !s.sharded && !refusedLately(&s.mgetRefused)
	gs := make([]gets, len(lists))
	s.pipe(ctx, func(p redis.Pipeliner) {
		for i, keys := range lists {
			gs[i] = queueGets(ctx, p, keys, mget)
		}
	})
	for _, g := range gs {
		for _, c := range g.many {
			if Refused(c.Err()) { // an ACL user without MGET, or a renamed command
				s.mgetRefused.Store(time.Now().UnixNano())
				return s.readKeys(ctx, false, lists...)
			}
		}
	}
	return gs
}

// place gives sn the job record v holds; false when v is neither a string
// nor missing.
func place(sn *Snapshot, id string, v value) bool {
	switch {
	case v.str:
		sn.Job, sn.Err = decodeJob(id, v.data)
	case v.gone:
		sn.Err = fmt.Errorf("job %s: %w", id, ErrNotFound)
	default:
		return false
	}
	return true
}

// readOthers reads the records that are not strings (or, read by MGET, may
// be missing) as hashes, then what is not a hash either as a string again
// (written between the two reads).
func (s *Store) readOthers(ctx context.Context, ids []string, idx []int, snaps []Snapshot) error {
	if len(idx) == 0 {
		return nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(idx))
	s.pipe(ctx, func(p redis.Pipeliner) {
		for n, i := range idx {
			cmds[n] = p.HGetAll(ctx, JobKey(ids[i]))
		}
	})
	var again []int
	var keys []string
	for n, i := range idx {
		h, err := cmds[n].Result()
		switch {
		case isWrongType(err):
			again, keys = append(again, i), append(keys, JobKey(ids[i]))
		case err != nil:
			return failed(cmds[n])
		case len(h) == 0:
			place(&snaps[i], ids[i], value{gone: true})
		default:
			snaps[i].Job, snaps[i].Err = decodeHash(ids[i], h)
		}
	}
	if len(again) == 0 {
		return nil
	}
	vals, err := s.readKeys(ctx, false, keys)[0].values()
	if err != nil {
		return err
	}
	for n, i := range again {
		if !place(&snaps[i], ids[i], vals[n]) { // a list, set, zset or stream: not a job, not missing
			snaps[i].Err = fmt.Errorf("job %s: %w: the key is not a string or a hash", ids[i], ErrCorrupt)
		}
	}
	return nil
}

// readOutcomes reads the recommendation of COMPLETED jobs and the error
// message of FAILED ones, save those early holds (read with the records).
func (s *Store) readOutcomes(ctx context.Context, ids []string, snaps []Snapshot, early map[string]value) error {
	var idx []int
	var keys []string
	for i := range snaps {
		sn := &snaps[i]
		if sn.Err != nil || !sn.Job.Status.Final() {
			continue
		}
		var key string
		switch {
		case sn.Job.Status == Failed:
			key = ErrorKey(ids[i])
		case sn.Job.EventDraftID == "":
			sn.Err = fmt.Errorf("job %s: %w: no eventDraftId", ids[i], ErrNoResult)
			continue
		default:
			key = ResultKey(sn.Job.EventDraftID)
		}
		// What early holds settles the job when it is what a new read would
		// take: a result string, or an error message.
		if v, ok := early[key]; ok && (v.str && sn.Job.Status == Completed || len(v.data) > 0) {
			settle(sn, ids[i], key, v)
		} else {
			idx, keys = append(idx, i), append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := s.readKeys(ctx, true, keys)[0].values()
	if err != nil {
		return err
	}
	for n, i := range idx {
		settle(&snaps[i], ids[i], keys[n], vals[n])
	}
	return nil
}

// settle gives a final job sn its outcome: v, read at key.
func settle(sn *Snapshot, id, key string, v value) {
	switch {
	case sn.Job.Status == Failed && len(v.data) > 0:
		sn.Error = string(v.data)
	case sn.Job.Status == Failed:
		sn.Error = DefaultFailure
	case !v.str:
		sn.Err = fmt.Errorf("job %s: %w: %s is missing or not a string", id, ErrNoResult, key)
	default:
		sn.Result, sn.Err = decodeResult(id, v.data)
	}
}

// TTLs reads how long each job's record has left to live, in one round
// trip: 0 if it does not expire, below 0 if it is gone. Where Redis
// refuses PTTL every job reads as not expiring, and Redis is not asked again.
func (s *Store) TTLs(ctx context.Context, ids []string) ([]time.Duration, error) {
	out := make([]time.Duration, len(ids))
	if refusedLately(&s.pttlRefused) {
		return out, nil
	}
	cmds := make([]*redis.DurationCmd, len(ids))
	s.pipe(ctx, func(p redis.Pipeliner) {
		for i, id := range ids {
			cmds[i] = p.PTTL(ctx, JobKey(id))
		}
	})
	for i, c := range cmds {
		d, err := c.Result()
		switch {
		case Refused(err):
			s.pttlRefused.Store(time.Now().UnixNano())
			return make([]time.Duration, len(ids)), nil
		case err != nil:
			return nil, unavailable(err)
		case d == -2: // missing
			out[i] = -1
		case d >= 0: // -1: no expiry; one within its last millisecond still expires
			out[i] = max(d, time.Millisecond)
		}
	}
	return out, nil
}

// pipe runs one pipeline (none for no command); errors are read from each
// command.
func (s *Store) pipe(ctx context.Context, fill func(redis.Pipeliner)) {
	p := s.rdb.Pipeline()
	fill(p)
	cmds, err := p.Exec(ctx)
	if err == nil {
		return
	}
	for _, c := range cmds {
		if c.Err() == err {
			return // a command's own answer (redis.Nil, WRONGTYPE)
		}
	}
	// The pipeline failed as a whole: when Redis refuses the connection
	// itself (WRONGPASS, NOAUTH) go-redis leaves its commands without an
	// error, and an empty answer must never pass for a job.
	for _, c := range cmds {
		if c.Err() == nil {
			c.SetErr(err)
		}
	}
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

// failed is the error of a read whose command c failed: ErrRefused naming
// the command, its key and the missing rule when Redis refused it;
// ErrUnavailable otherwise.
func failed(c redis.Cmder) error {
	err := c.Err()
	if !Refused(err) {
		return unavailable(err)
	}
	words := []string{strings.ToUpper(c.Name())}
	for _, a := range c.Args()[1:] {
		words = append(words, fmt.Sprint(a))
	}
	rule := "the command is renamed or disabled on the server"
	switch msg := err.Error(); {
	case strings.Contains(msg, "access one of the keys"):
		rule = "the user may not read its key: a %R~ key pattern is missing"
	case strings.HasPrefix(msg, "NOPERM"):
		rule = "the user may not run it: +" + c.Name() + " is missing"
	}
	return fmt.Errorf("%w: %s (%s): %w", ErrRefused, strings.Join(words, " "), rule, err)
}

// Refused tells a command Redis will never run for jobwait (NOPERM, or a
// command renamed or disabled) from trouble that passes (LOADING, a timeout).
func Refused(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "NOPERM") || strings.HasPrefix(msg, "ERR unknown command") || strings.HasPrefix(msg, "ERR unknown subcommand")
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
