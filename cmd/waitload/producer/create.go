package producer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"jobwait/store"
)

// Creator starts jobs as a client of the Event Service does: one POST per
// job to a URL that names its event draft, answered with the new job's id
// (jobwait's demo endpoint, POST /api/events/{draft}/ai-recommendations →
// 202 {"jobId"}). The server's own producer completes them; waitload does
// not, and needs no Redis.
type Creator struct {
	url    string // {draft} stands for the event draft id
	client *http.Client
}

// NewCreator starts jobs at url, where {draft} stands for each job's event
// draft id, with client, which should allow Workers connections.
func NewCreator(url string, client *http.Client) *Creator {
	return &Creator{url: url, client: client}
}

// Create starts one job for each draft, Workers at a time, and returns
// their ids in the drafts' order.
func (c *Creator) Create(ctx context.Context, drafts []string) ([]string, error) {
	ids := make([]string, len(drafts))
	err := each(ctx, len(drafts), nil, func(ctx context.Context, k int) error {
		url := strings.ReplaceAll(c.url, "{draft}", drafts[k])
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return fmt.Errorf("create a job: %w", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return fmt.Errorf("create a job: POST %s: %w", url, err)
		}
		var created struct {
			JobID string `json:"jobId"`
		}
		if resp.StatusCode/100 != 2 || json.Unmarshal(body, &created) != nil || !store.ValidID(created.JobID) {
			return fmt.Errorf("create a job: POST %s: http %d %.200s: want 2xx with {\"jobId\"}", url, resp.StatusCode, body)
		}
		ids[k] = created.JobID
		return nil
	})
	return ids, err
}
