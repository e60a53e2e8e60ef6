package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Sample is what waitload reads of the server: jobwait's /metrics, or
// Nchan's worker and status.
type Sample struct {
	RSS        float64 // process_resident_memory_bytes
	Goroutines float64 // go_goroutines
	Waiters    float64 // jobwait_waiters, summed over kinds
	HubReads   float64 // jobwait_hub_job_reads_total: jobs read by the hub (long polls and streams)
}

// Jobwait reads jobwait's own figures with its own client (one connection,
// apart from the waiters').
type Jobwait struct {
	base   string // the server's URL, with its base path
	client *http.Client
}

// NewJobwait reads the jobwait at base (scheme://host and base path).
func NewJobwait(base string, client *http.Client) *Jobwait {
	return &Jobwait{base: base, client: client}
}

// Get reads one small answer of a server's own endpoints: its body when
// the status is 200, an error that says why otherwise.
func Get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("http %d: %.200s", resp.StatusCode, body)
	}
	return body, err
}

// Scrape reads /metrics.
func (s *Jobwait) Scrape(ctx context.Context) (Sample, error) {
	m, err := Metrics(ctx, s.client, s.base)
	return Sample{
		RSS:        m["process_resident_memory_bytes"],
		Goroutines: m["go_goroutines"],
		Waiters:    m["jobwait_waiters"],
		HubReads:   m["jobwait_hub_job_reads_total"],
	}, err
}

// Metrics reads jobwait's /metrics at base, one value per metric name
// (the series of a name summed).
func Metrics(ctx context.Context, client *http.Client, base string) (map[string]float64, error) {
	body, err := Get(ctx, client, base+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("jobwait /metrics: %w", err)
	}
	return parseMetrics(string(body)), nil
}

// Info is what jobwait says of its settings (GET /api/info).
type Info struct {
	Demo           bool   `json:"demo"`
	WaitBudgetMs   int64  `json:"waitBudgetMs"`
	PollIntervalMs int64  `json:"pollIntervalMs"`
	Notify         string `json:"notify"` // keyspace | poll
}

// Info reads GET /api/info.
func (s *Jobwait) Info(ctx context.Context) (Info, error) {
	var info Info
	body, err := Get(ctx, s.client, s.base+"/api/info")
	if err == nil {
		if err = json.Unmarshal(body, &info); err == nil && (info.WaitBudgetMs <= 0 || info.PollIntervalMs <= 0) {
			err = fmt.Errorf("no waitBudgetMs and pollIntervalMs in %.200s", body)
		}
	}
	if err != nil {
		return info, fmt.Errorf("jobwait /api/info: %w", err)
	}
	return info, nil
}

// parseMetrics reads the Prometheus text format into one value per metric
// name, summing the series of a name (every label set): all waitload needs.
func parseMetrics(text string) map[string]float64 {
	m := map[string]float64{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		i := strings.IndexAny(line, "{ ")
		if i < 0 || line[0] == '#' {
			continue
		}
		name, rest := line[:i], line[i:]
		if line[i] == '{' { // a label's value may hold spaces and braces
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			rest = line[j+1:]
		}
		fields := strings.Fields(rest) // value, then an optional timestamp
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			m[name] += v
		}
	}
	return m
}
