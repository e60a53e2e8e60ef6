package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
)

var jobSeq atomic.Int64

// Producer writes jobs into Redis as the AI service does.
type Producer struct {
	Store  *store.Store
	prefix string
}

// NewProducer returns a Producer writing with rdb; its job ids start with
// prefix.
func NewProducer(rdb redis.UniversalClient, prefix string) *Producer {
	return &Producer{Store: store.New(rdb), prefix: prefix}
}

// ReadOne reads job id from st as jobwait does; the snapshot's Err is
// returned as the error.
func ReadOne(ctx context.Context, st *store.Store, id string) (store.Snapshot, error) {
	snaps, err := st.ReadMany(ctx, []string{id})
	if err != nil {
		return store.Snapshot{}, err
	}
	return snaps[0], snaps[0].Err
}

// Read reads one job as ReadOne does.
func (p *Producer) Read(ctx context.Context, id string) (store.Snapshot, error) {
	return ReadOne(ctx, p.Store, id)
}

// ID returns an id starting with prefix that no other id of this test
// process has, and none of an earlier run likely.
func ID(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%1e9, jobSeq.Add(1))
}

// ID returns a job id no other job of this test process has.
func (p *Producer) ID() string { return ID(p.prefix) }

// Create writes a PENDING job whose draft is "draft-" and its id.
func (p *Producer) Create(tb testing.TB) store.Job {
	tb.Helper()
	id := p.ID()
	j, err := p.Store.Create(context.Background(), id, "draft-"+id)
	if err != nil {
		tb.Fatalf("create job %s: %v", id, err)
	}
	return j
}

// Jobs writes n PENDING jobs.
func (p *Producer) Jobs(tb testing.TB, n int) []store.Job {
	tb.Helper()
	jobs := make([]store.Job, n)
	for i := range jobs {
		jobs[i] = p.Create(tb)
	}
	return jobs
}

// Start moves j to PROCESSING.
func (p *Producer) Start(tb testing.TB, j store.Job) store.Job {
	tb.Helper()
	j, err := p.Store.Start(context.Background(), j)
	if err != nil {
		tb.Fatalf("start job %s: %v", j.JobID, err)
	}
	return j
}

// Complete writes j's sample result, then its COMPLETED status. It returns
// an error rather than failing a test, for goroutines that complete jobs.
func (p *Producer) Complete(ctx context.Context, j store.Job) error {
	_, err := p.Store.Complete(ctx, j, store.SampleResult(j.EventDraftID))
	return err
}

// Fail writes j's error message, then its FAILED status.
func (p *Producer) Fail(tb testing.TB, j store.Job, message string) store.Job {
	tb.Helper()
	j, err := p.Store.Fail(context.Background(), j, message)
	if err != nil {
		tb.Fatalf("fail job %s: %v", j.JobID, err)
	}
	return j
}
