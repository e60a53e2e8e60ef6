package nchan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"jobwait/store"
)

// The Nchan locations of nchan.conf, below the target's base path.
const (
	pubPath    = "/nchan/pub/"
	statusPath = "/nchan/status"
	pidPath    = "/nchan/pid"
)

// Publisher is the producer's side against Nchan: jobs exist only in
// waitload (a channel needs no creating), and a completion is one POST.
type Publisher struct {
	base   string // scheme://host + base path
	client *http.Client
}

// NewPublisher publishes to the Nchan at base (scheme://host and base path)
// with client, which should allow a connection per write in flight.
func NewPublisher(base string, client *http.Client) *Publisher {
	return &Publisher{base: base, client: client}
}

// Create makes the job as store.Create would, without writing it anywhere.
func (p *Publisher) Create(_ context.Context, id, eventDraftID string) (store.Job, error) {
	now := time.Now().UTC().Format(time.RFC3339)
	return store.Job{JobID: id, Status: store.Pending, EventDraftID: eventDraftID, Type: store.JobType, CreatedAt: now, UpdatedAt: now}, nil
}

// Start moves the job to PROCESSING, in waitload only.
func (p *Publisher) Start(_ context.Context, j store.Job) (store.Job, error) {
	j.Status = store.Processing
	return j, nil
}

// Complete publishes the job's completed answer to its channel and returns
// once Nchan has answered: Nchan has then stored the message in Redis.
func (p *Publisher) Complete(ctx context.Context, j store.Job, r store.Result) (store.Job, error) {
	if err := p.publish(ctx, j, r); err != nil {
		return j, fmt.Errorf("publish job %s: %w", j.JobID, err)
	}
	j.Status = store.Completed
	return j, nil
}

func (p *Publisher) publish(ctx context.Context, j store.Job, r store.Result) error {
	body, err := completedBody(j, r)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+pubPath+j.JobID, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-EventSource-Event", "completed")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err == nil && resp.StatusCode/100 != 2 { // 201 with subscribers, 202 without
		err = fmt.Errorf("http %d: %.200s", resp.StatusCode, msg)
	}
	return err
}

// completedBody is the body jobwait answers for job j completed with r
// (SPEC.md §3): a long poll's answer, and the data of a stream's completed
// event, so that both servers carry the same payload (a test pins it).
func completedBody(j store.Job, r store.Result) ([]byte, error) {
	return json.Marshal(struct {
		JobID           string                 `json:"jobId"`
		Status          store.Status           `json:"status"`
		EventDraftID    string                 `json:"eventDraftId"`
		TrendAnalysis   json.RawMessage        `json:"trendAnalysis"`
		Recommendations []store.Recommendation `json:"recommendations"`
	}{j.JobID, store.Completed, j.EventDraftID, r.TrendAnalysis, r.Recommendations})
}
