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
	return s.set(ctx, "result of job "+j.JobID, ResultKey(j.EventDraftID), data, ResultTTL)
}

// MarkCompleted marks job j COMPLETED, the last of Complete's writes.
func (s *Store) MarkCompleted(ctx context.Context, j Job) (Job, error) {
	j.Status = Completed
	return j, s.save(ctx, j)
}

// Fail writes the error message and then marks the job FAILED.
func (s *Store) Fail(ctx context.Context, j Job, message string) (Job, error) {
	if err := s.set(ctx, "error of job "+j.JobID, ErrorKey(j.JobID), message, JobTTL); err != nil {
		return j, err
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
	return s.set(ctx, "job "+j.JobID, JobKey(j.JobID), data, JobTTL)
}

func (s *Store) set(ctx context.Context, what, key string, v any, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, key, v, ttl).Err(); err != nil {
		return fmt.Errorf("write %s: %w", what, unavailable(err))
	}
	return nil
}

func timestamp() string { return time.Now().UTC().Format(time.RFC3339) }

// SampleResult is a realistic recommendation in the producer's format, for
// the demo stand-in and the load tester.
func SampleResult(eventDraftID string) Result {
	return Result{
		EventDraftID: eventDraftID,
		TrendAnalysis: json.RawMessage(`{"summary":"최근 3개월 동안 20~30대 고객의 모바일 참여형 이벤트 반응이 가장 높았습니다. 즉시 보상형 경품과 SNS 공유 이벤트의 전환율이 평균보다 1.8배 높습니다.",` +
			`"keywords":["모바일 참여","즉시 보상","SNS 공유","주말 집중"],` +
			`"period":"2026-08 ~ 2026-10","targetAudience":"20~30대 직장인",` +
			`"seasonality":{"peakDays":["금","토"],"peakHours":"18~22시"}}`),
		Recommendations: []Recommendation{
			{Title: "저비용 추천안", Prize: "커피쿠폰", Method: "QR코드 스캔", Cost: "50만원", ROI: "150%"},
			{Title: "중비용 추천안", Prize: "상품권", Method: "SNS 공유", Cost: "100만원", ROI: "200%"},
			{Title: "고비용 추천안", Prize: "경품 추첨", Method: "설문 참여", Cost: "200만원", ROI: "300%"},
		},
	}
}
