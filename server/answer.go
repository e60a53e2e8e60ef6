package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"jobwait/store"
	"jobwait/stream"
)

// DefaultResultGrace is how long a COMPLETED job without a readable result
// is re-read before its waiters are told JOB_003.
const DefaultResultGrace = 2 * time.Second

// Messages of SPEC.md §3.
const (
	msgWaiting = "AI가 분석 중입니다"
	msgRetry   = "다시 시도해주세요"
)

// Answer is one reading of a job, rendered once and shared by every waiter
// of the job: the HTTP status and the JSON body of SPEC.md §3.
type Answer struct {
	Status   store.Status // the job's status; "" when Body is an error
	Code     int          // HTTP status
	Body     []byte
	NoResult bool // JOB_003 of a COMPLETED job: the producer may still be writing its result
	// Draft is the job's eventDraftId as read ("" when unknown): the hub's
	// next read of the job reads that draft's result in the same round trip.
	Draft string
}

// Final reports whether the job will not change any more (COMPLETED or
// FAILED) or cannot be waited for (gone, unreadable).
func (a *Answer) Final() bool { return a.Status.Final() || a.Status == "" }

// TimedOut returns a copy of the body with "timedOut": true added.
func (a *Answer) TimedOut() []byte {
	return slices.Concat(a.Body[:len(a.Body)-1], []byte(`,"timedOut":true}`))
}

// SameAnswer reports whether two answers say the same.
func SameAnswer(a, b *Answer) bool { return a.Code == b.Code && bytes.Equal(a.Body, b.Body) }

// Doubt is the hub's Config.Doubt over answers. A job that was there (prev
// is nil before the first read) and reads as gone is read again
// stream.DefaultConfirmDelay later, since a producer that rewrites a hash
// (Spring's DEL, then HMSET) leaves such a gap; a COMPLETED job without a
// readable result is re-read for up to grace (zero: JOB_003 at once),
// since a producer may write the result a moment after the status.
func Doubt(grace time.Duration) func(prev, next *Answer) time.Duration {
	return func(prev, next *Answer) time.Duration {
		switch {
		case next.NoResult:
			return grace
		case prev != nil && prev.Status != "" && next.Code == fiber.StatusNotFound:
			return stream.DefaultConfirmDelay
		}
		return 0
	}
}

// HubConfig is the hub configuration that reads jobs from st as answers:
// one batched read, one rendered answer per job, each job's known draft
// read with its record, so that a completion costs one round trip.
func HubConfig(st *store.Store) stream.Config[*Answer] {
	read := func(ctx context.Context, ids []string, prev []*Answer) ([]*Answer, error) {
		drafts := make([]string, len(ids))
		for i, a := range prev {
			if a != nil {
				drafts[i] = a.Draft
			}
		}
		snaps, err := st.ReadManyWith(ctx, ids, store.Hints{Drafts: drafts})
		if err != nil {
			return nil, err
		}
		out := make([]*Answer, len(snaps))
		for i := range snaps {
			out[i] = render(ids[i], &snaps[i])
			out[i].Draft = snaps[i].Job.EventDraftID
		}
		return out, nil
	}
	return stream.Config[*Answer]{Pattern: store.JobPattern, Keys: store.Keys, JobID: store.IDFromKey,
		Read: read, Same: SameAnswer, Doubt: Doubt(DefaultResultGrace), TTLs: st.TTLs}
}

type waitingBody struct {
	JobID   string       `json:"jobId"`
	Status  store.Status `json:"status"`
	Message string       `json:"message"`
}

type completedBody struct {
	JobID           string                 `json:"jobId"`
	Status          store.Status           `json:"status"`
	EventDraftID    string                 `json:"eventDraftId"`
	TrendAnalysis   json.RawMessage        `json:"trendAnalysis"`
	Recommendations []store.Recommendation `json:"recommendations"`
}

type failedBody struct {
	JobID   string       `json:"jobId"`
	Status  store.Status `json:"status"`
	Error   string       `json:"error"`
	Message string       `json:"message"`
}

// render turns a snapshot into its answer, an error's as errorFor maps it.
func render(id string, sn *store.Snapshot) *Answer {
	if sn.Err != nil {
		a := errorFor(sn.Err).answer()
		a.NoResult = errors.Is(sn.Err, store.ErrNoResult)
		return a
	}
	var body any
	switch sn.Job.Status {
	case store.Completed:
		body = completedBody{id, store.Completed, sn.Job.EventDraftID, sn.Result.TrendAnalysis, sn.Result.Recommendations}
	case store.Failed:
		body = failedBody{id, store.Failed, sn.Error, msgRetry}
	default:
		body = waitingBody{id, sn.Job.Status, msgWaiting}
	}
	data, err := json.Marshal(body)
	if err != nil { // a trendAnalysis that is not valid JSON
		return ErrNoResult.answer()
	}
	return &Answer{Status: sn.Job.Status, Code: 200, Body: data}
}
