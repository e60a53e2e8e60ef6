package nchan

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"jobwait/cmd/waitload/probe"
)

// Stats reads what waitload reports of the server from Nchan: the
// worker's RSS from /proc (the peer runs on this machine) and the
// subscribers held from nchan_stub_status.
type Stats struct {
	base   string
	client *http.Client

	mu  sync.Mutex
	pid int // the worker's, read once
}

// NewStats reads the Nchan at base (scheme://host and base path).
func NewStats(base string, client *http.Client) *Stats {
	return &Stats{base: base, client: client}
}

func (s *Stats) get(ctx context.Context, path string) (string, error) {
	body, err := probe.Get(ctx, s.client, s.base+path)
	if err != nil {
		return "", fmt.Errorf("nchan %s: %w", path, err)
	}
	return string(body), nil
}

// Notify says whether Nchan is on Redis: "nchan on redis" when
// nchan_stub_status shows a connected Redis server. Nchan connects after it
// starts: wait for that before a run (peerbench.sh does).
func (s *Stats) Notify(ctx context.Context) (string, error) {
	st, err := s.get(ctx, statusPath)
	if err != nil {
		return "", err
	}
	if parseStatus(st)["redis connected servers"] > 0 {
		return "nchan on redis", nil
	}
	return "nchan, no redis connected", nil
}

// Scrape reads the worker's RSS and the subscribers Nchan holds.
func (s *Stats) Scrape(ctx context.Context) (probe.Sample, error) {
	pid, err := s.workerPID(ctx)
	if err != nil {
		return probe.Sample{}, err
	}
	rss, err := probe.RSS(pid)
	if err != nil {
		return probe.Sample{}, fmt.Errorf("nchan worker %w", err)
	}
	st, err := s.get(ctx, statusPath)
	if err != nil {
		return probe.Sample{}, err
	}
	return probe.Sample{RSS: rss, Waiters: parseStatus(st)["subscribers"]}, nil
}

func (s *Stats) workerPID(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid != 0 {
		return s.pid, nil
	}
	body, err := s.get(ctx, pidPath)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(body))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("nchan %s: %.20q is not a pid", pidPath, body)
	}
	s.pid = pid
	return pid, nil
}

// parseStatus reads nchan_stub_status's "name: number" lines.
func parseStatus(text string) map[string]float64 {
	m := map[string]float64{}
	for name, v := range probe.Fields(text) {
		if n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "K"), 64); err == nil {
			m[strings.TrimSpace(name)] = n
		}
	}
	return m
}
