package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is what waitload reads from jobwait's /metrics.
type sample struct {
	RSS        float64 // process_resident_memory_bytes
	Goroutines float64 // go_goroutines
	Waiters    float64 // jobwait_waiters, summed over kinds
	HubReads   float64 // jobwait_hub_job_reads_total: jobs read by the hub (long polls and streams)
}

// scraper reads jobwait's own figures over one plain net/http connection
// from 127.0.0.1, apart from the waiters' connections.
type scraper struct {
	base   string
	client *http.Client
}

func newScraper(t target) *scraper {
	return &scraper{base: t.url + t.base, client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 1, MaxIdleConnsPerHost: 1, DisableCompression: true},
	}}
}

func (s *scraper) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, err
}

// scrape reads /metrics.
func (s *scraper) scrape(ctx context.Context) (sample, error) {
	code, body, err := s.get(ctx, "/metrics")
	if err != nil {
		return sample{}, fmt.Errorf("jobwait /metrics: %w", err)
	}
	if code != http.StatusOK {
		return sample{}, fmt.Errorf("jobwait /metrics: http %d", code)
	}
	m := parseMetrics(string(body))
	return sample{
		RSS:        m["process_resident_memory_bytes"],
		Goroutines: m["go_goroutines"],
		Waiters:    m["jobwait_waiters"],
		HubReads:   m["jobwait_hub_job_reads_total"],
	}, nil
}

// notifyMode asks /readyz how jobwait is woken (keyspace or poll); empty
// when it does not say.
func (s *scraper) notifyMode(ctx context.Context) (string, error) {
	code, body, err := s.get(ctx, "/readyz")
	if err != nil {
		return "", fmt.Errorf("jobwait /readyz: %w", err)
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("jobwait /readyz: http %d: %.200s", code, body)
	}
	var r map[string]any
	_ = json.Unmarshal(body, &r)
	for _, k := range []string{"notify", "notifyMode", "mode"} {
		if v, ok := r[k].(string); ok {
			return v, nil
		}
	}
	return "", nil
}

// parseMetrics reads the Prometheus text format into one value per metric
// name, summing the series of a name (every label set): all waitload needs.
func parseMetrics(text string) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var name, rest string
		if i := strings.IndexAny(line, "{ "); i < 0 {
			continue
		} else if line[i] == '{' {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, rest = line[:i], line[j+1:]
		} else {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest) // value, then an optional timestamp
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m[name] += v
	}
	return m
}
