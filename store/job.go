package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Status is a job's state.
type Status string

// The four states a job moves through: PENDING → PROCESSING → COMPLETED or FAILED.
const (
	Pending    Status = "PENDING"
	Processing Status = "PROCESSING"
	Completed  Status = "COMPLETED"
	Failed     Status = "FAILED"
)

// Valid reports whether s is one of the four states.
func (s Status) Valid() bool { return s == Pending || s == Processing || s.Final() }

// Final reports whether a job in state s will not change any more.
func (s Status) Final() bool { return s == Completed || s == Failed }

// JobType is the type of every job jobwait knows.
const JobType = "AI_RECOMMENDATION"

// Job is the record at job:{id}, stored as a JSON string or as a hash with
// the same fields.
type Job struct {
	JobID        string `json:"jobId"`
	Status       Status `json:"status"`
	EventDraftID string `json:"eventDraftId"`
	Type         string `json:"type"`
	CreatedAt    string `json:"createdAt"`
	UpdatedAt    string `json:"updatedAt"`
}

// Recommendation is one proposal of a result.
type Recommendation struct {
	Title  string `json:"title"`
	Prize  string `json:"prize"`
	Method string `json:"method"`
	Cost   string `json:"cost"`
	ROI    string `json:"roi"`
}

// Result is the value at ai:recommendation:{eventDraftId}. TrendAnalysis is
// kept exactly as the producer wrote it.
type Result struct {
	EventDraftID    string           `json:"eventDraftId"`
	TrendAnalysis   json.RawMessage  `json:"trendAnalysis"`
	Recommendations []Recommendation `json:"recommendations"`
}

// decodeJob reads a JSON job record; the job takes the id it was read
// under, so a record without its own jobId still names its job.
func decodeJob(id string, data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, fmt.Errorf("job %s: %w: %v", id, ErrCorrupt, err)
	}
	return checkJob(id, j)
}

// decodeHash reads a job record stored as a hash, unquoting the values of
// a JSON hash-value serializer (a quoted "PROCESSING").
func decodeHash(id string, h map[string]string) (Job, error) {
	field := func(name string) string {
		v := h[name]
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
		}
		return v
	}
	return checkJob(id, Job{ // checkJob names the job by id
		Status:       Status(field("status")),
		EventDraftID: field("eventDraftId"),
		Type:         field("type"),
		CreatedAt:    field("createdAt"),
		UpdatedAt:    field("updatedAt"),
	})
}

// checkJob refuses a job in no known state, and names it by id.
func checkJob(id string, j Job) (Job, error) {
	if !j.Status.Valid() {
		return Job{}, fmt.Errorf("job %s: %w: status %.40q", id, ErrCorrupt, j.Status)
	}
	j.JobID = id
	return j, nil
}

// decodeResult reads a recommendation; one without a recommendations list is
// as good as missing.
func decodeResult(id string, data []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("job %s: %w: %v", id, ErrNoResult, err)
	}
	if r.Recommendations == nil {
		return nil, fmt.Errorf("job %s: %w: no recommendations", id, ErrNoResult)
	}
	if len(r.TrendAnalysis) == 0 || string(r.TrendAnalysis) == "null" {
		r.TrendAnalysis = json.RawMessage("{}")
	}
	// Bytes that are not UTF-8 (text cut mid-character) can only sit in
	// JSON strings, and strict clients reject a body holding them.
	if !utf8.Valid(r.TrendAnalysis) {
		r.TrendAnalysis = bytes.ToValidUTF8(r.TrendAnalysis, []byte("\uFFFD"))
	}
	return &r, nil
}
