package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// TTLs of SPEC.md §1.
const (
	JobTTL    = time.Hour
	ResultTTL = 24 * time.Hour
)

// Create writes a new PENDING job.
func (s *Store) Create(ctx context.Context, id, eventDraftID string) (Job, error) {
	now := timestamp()
	j := Job{JobID: id, Status: Pending, EventDraftID: eventDraftID, Type: JobType, CreatedAt: now, UpdatedAt: now}
	return j, s.save(ctx, j)
}

// Start moves a job to PROCESSING.
func (s *Store) Start(ctx context.Context, j Job) (Job, error) {
	j.Status = Processing
	return j, s.save(ctx, j)
}

// Complete writes the recommendation and then marks the job COMPLETED, so
// that a reader who sees the status always finds the result.
func (s *Store) Complete(ctx context.Context, j Job, r Result) (Job, error) {
	if err := s.PutResult(ctx, j, r); err != nil {
		return j, err
	}
	return s.MarkCompleted(ctx, j)
}

// PutResult writes job j's recommendation: the first of Complete's writes.
func (s *Store) PutResult(ctx context.Context, j Job, r Result) error {
	r.EventDraftID = j.EventDraftID
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result of job %s: %w", j.JobID, err)
	}
	if err := s.rdb.Set(ctx, ResultKey(j.EventDraftID), data, ResultTTL).Err(); err != nil {
		return fmt.Errorf("write result of job %s: %w", j.JobID, unavailable(err))
	}
	return nil
}

// MarkCompleted marks job j COMPLETED, the last of Complete's writes: its
// recommendation must be written already (PutResult).
func (s *Store) MarkCompleted(ctx context.Context, j Job) (Job, error) {
	j.Status = Completed
	return j, s.save(ctx, j)
}

// Fail writes the error message and then marks the job FAILED.
func (s *Store) Fail(ctx context.Context, j Job, message string) (Job, error) {
	if err := s.rdb.Set(ctx, ErrorKey(j.JobID), message, JobTTL).Err(); err != nil {
		return j, fmt.Errorf("write error of job %s: %w", j.JobID, unavailable(err))
	}
	j.Status = Failed
	return j, s.save(ctx, j)
}

// save writes the job record as the canonical JSON string with the job TTL.
func (s *Store) save(ctx context.Context, j Job) error {
	j.UpdatedAt = timestamp()
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job %s: %w", j.JobID, err)
	}
	if err := s.rdb.Set(ctx, JobKey(j.JobID), data, JobTTL).Err(); err != nil {
		return fmt.Errorf("write job %s: %w", j.JobID, unavailable(err))
	}
	return nil
}

func timestamp() string { return time.Now().UTC().Format(time.RFC3339) }
