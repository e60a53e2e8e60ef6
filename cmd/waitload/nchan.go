package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"jobwait/server"
	"jobwait/sse"
	"jobwait/store"
)

// waitload measures jobwait side by side with a peer a user could pick
// instead: nginx with the Nchan module, its channels kept in the same Redis
// (nchan.conf). Against Nchan, waitload does what it does against jobwait
// with the same numbers, on the same clock:
//
//   - a waiter subscribes to its job's channel, by EventSource
//     (/nchan/sse/{job}) or by long poll (/nchan/lp/{job});
//   - a completion is one HTTP POST to /nchan/pub/{job} of the very body
//     jobwait would answer (server.CompletedBody), with
//     X-EventSource-Event: completed, so a stream sees the event jobwait sends;
//   - latency runs from that POST's answer having returned (where jobwait's
//     runs from the status SET having returned) to the waiter having read
//     the whole event or answer;
//   - memory is the nginx worker's RSS (/proc/{pid}/status, the pid from
//     /nchan/pid), held waiters are nchan_stub_status's subscribers, and
//     Redis commands are counted as for jobwait.

// The servers waitload can measure (-server).
const (
	ServerJobwait = "jobwait"
	ServerNchan   = "nchan" // nginx + Nchan as nchan.conf sets it up
)

// validateServer checks -server and the modes it serves: Nchan has no
// short-poll client to compare (its polling subscriber is a long poll).
func (c Config) validateServer() error {
	switch c.Server {
	case "", ServerJobwait:
		return nil
	case ServerNchan:
		for _, m := range c.Modes {
			if m != ModeSSE && m != ModeLongPoll {
				return fmt.Errorf("-server nchan -mode %s: Nchan is measured with sse and longpoll only", m)
			}
		}
		return nil
	}
	return fmt.Errorf("-server %q: want jobwait or nchan", c.Server)
}

// The Nchan locations of nchan.conf, below the target's base path.
func nchanSSEPath(job string) string      { return "/nchan/sse/" + job }
func nchanLongPollPath(job string) string { return "/nchan/lp/" + job }
func nchanPubPath(job string) string      { return "/nchan/pub/" + job }

const (
	nchanStatusPath = "/nchan/status"
	nchanPIDPath    = "/nchan/pid"
)

// nchanPublisher is the producer's side against Nchan: jobs exist only in
// waitload (a channel needs no creating), and a completion is one POST.
type nchanPublisher struct {
	base   string // scheme://host + base path
	client *http.Client
}

func newNchanPublisher(t target) *nchanPublisher {
	return &nchanPublisher{base: t.url + t.base, client: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: producerWorkers, MaxConnsPerHost: producerWorkers,
			IdleConnTimeout: 30 * time.Second, DisableCompression: true,
		},
	}}
}

// Create makes the job as store.Create would, without writing it anywhere.
func (p *nchanPublisher) Create(_ context.Context, id, eventDraftID string) (store.Job, error) {
	now := time.Now().UTC().Format(time.RFC3339)
	return store.Job{JobID: id, Status: store.Pending, EventDraftID: eventDraftID, Type: store.JobType, CreatedAt: now, UpdatedAt: now}, nil
}

// Start moves the job to PROCESSING, in waitload only.
func (p *nchanPublisher) Start(_ context.Context, j store.Job) (store.Job, error) {
	j.Status = store.Processing
	return j, nil
}

// Complete publishes the job's completed answer to its channel and returns
// once Nchan has answered: Nchan has then stored the message in Redis.
func (p *nchanPublisher) Complete(ctx context.Context, j store.Job, r store.Result) (store.Job, error) {
	r.EventDraftID = j.EventDraftID
	body := server.CompletedBody(j, r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+nchanPubPath(j.JobID), bytes.NewReader(body))
	if err != nil {
		return j, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-EventSource-Event", "completed")
	resp, err := p.client.Do(req)
	if err != nil {
		return j, fmt.Errorf("publish job %s: %w", j.JobID, err)
	}
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if err != nil {
		return j, fmt.Errorf("publish job %s: %w", j.JobID, err)
	}
	if resp.StatusCode/100 != 2 { // 201 with subscribers, 202 without
		return j, fmt.Errorf("publish job %s: http %d: %.200s", j.JobID, resp.StatusCode, msg)
	}
	j.Status = store.Completed
	return j, nil
}

// nchanStats reads what waitload reports of the server from Nchan: the
// worker's RSS from /proc (the server is on this machine: loopback only)
// and the subscribers held from nchan_stub_status.
type nchanStats struct {
	base   string
	client *http.Client

	mu  sync.Mutex
	pid int // the worker's, read once
}

func newNchanStats(t target) *nchanStats {
	return &nchanStats{base: t.url + t.base, client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: 30 * time.Second, DisableCompression: true},
	}}
}

func (s *nchanStats) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("nchan %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("nchan %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("nchan %s: http %d", path, resp.StatusCode)
	}
	return string(body), nil
}

// notifyMode says whether Nchan is on Redis: "nchan on redis" when
// nchan_stub_status shows a connected Redis server. Nchan connects after it
// starts: wait for that before a run (peerbench.sh does).
func (s *nchanStats) notifyMode(ctx context.Context) (string, error) {
	st, err := s.get(ctx, nchanStatusPath)
	if err != nil {
		return "", err
	}
	if parseNchanStatus(st)["redis connected servers"] > 0 {
		return "nchan on redis", nil
	}
	return "nchan, no redis connected", nil
}

// scrape reads the worker's RSS and the subscribers Nchan holds.
func (s *nchanStats) scrape(ctx context.Context) (sample, error) {
	pid, err := s.workerPID(ctx)
	if err != nil {
		return sample{}, err
	}
	rss, err := readRSS(pid)
	if err != nil {
		return sample{}, err
	}
	st, err := s.get(ctx, nchanStatusPath)
	if err != nil {
		return sample{}, err
	}
	return sample{RSS: rss, Waiters: parseNchanStatus(st)["subscribers"]}, nil
}

func (s *nchanStats) workerPID(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid != 0 {
		return s.pid, nil
	}
	body, err := s.get(ctx, nchanPIDPath)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(body))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("nchan %s: %.20q is not a pid", nchanPIDPath, body)
	}
	s.pid = pid
	return pid, nil
}

// readRSS reads a process's resident set size in bytes from
// /proc/{pid}/status ("VmRSS:   10240 kB").
func readRSS(pid int) (float64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("nchan worker RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("nchan worker RSS: %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("nchan worker RSS: no VmRSS in /proc/%d/status", pid)
}

// parseNchanStatus reads nchan_stub_status's "name: number" lines.
func parseNchanStatus(text string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "K")), 64); err == nil {
			m[strings.TrimSpace(name)] = n
		}
	}
	return m
}

// nchan is one waiter's wait on its job's Nchan channel.
func (w *waiter) nchan(ctx context.Context, m Mode) (Kind, time.Time, error) {
	switch m {
	case ModeSSE:
		return w.nchanSSE(ctx)
	case ModeLongPoll:
		return w.nchanLongPoll(ctx)
	}
	return Errored, time.Time{}, fmt.Errorf("nchan has no %s mode", m)
}

// nchanSSE subscribes by EventSource and reads until the completed event.
// Nchan's pings ("event: ping" without data) dispatch nothing. A stream that
// ends first (nchan_subscriber_timeout) is reconnected at once with
// Last-Event-ID while budget is left, at most maxReconnects times.
func (w *waiter) nchanSSE(ctx context.Context) (Kind, time.Time, error) {
	p := sse.NewReader(nil)
	for attempt := 0; ; attempt++ {
		resp, err := w.request(ctx, nchanSSEPath(w.job), streamHeader(p), w.deadline.Add(grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		if resp.StatusCode != http.StatusOK {
			_, at, _ := w.c.readBody(resp)
			return Errored, at, fmt.Errorf("http %d", resp.StatusCode)
		}
		kind, at, err := w.readStream(resp.Body, p)
		if kind != "" || err != nil {
			return kind, at, err
		}
		w.c.close()
		w.c = nil
		if !time.Now().Before(w.deadline) {
			return TimedOut, time.Now(), nil
		}
		if attempt == maxReconnects {
			return Errored, time.Now(), fmt.Errorf("stream ended without a terminal event")
		}
	}
}

// nchanLongPoll holds GET /nchan/lp/{job} until the completed answer. A
// long poll Nchan lets go without a message (408 at
// nchan_subscriber_timeout, 304) is asked again with the Last-Modified and
// Etag it gave, while budget is left.
func (w *waiter) nchanLongPoll(ctx context.Context) (Kind, time.Time, error) {
	var extra string
	for attempt := 0; ; attempt++ {
		if !time.Now().Before(w.deadline) {
			return TimedOut, time.Now(), nil
		}
		resp, err := w.request(ctx, nchanLongPollPath(w.job), extra, w.deadline.Add(grace))
		if err != nil {
			return Errored, time.Time{}, err
		}
		body, at, err := w.c.readBody(resp)
		if err != nil {
			return Errored, at, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			_, done, kind, err := judge(resp.StatusCode, body)
			if !done {
				return Errored, at, fmt.Errorf("published answer not final")
			}
			return kind, at, err
		case http.StatusRequestTimeout, http.StatusNotModified:
			if attempt == maxReconnects {
				return Errored, at, fmt.Errorf("http %d: let go without a message %d times", resp.StatusCode, attempt+1)
			}
			extra = ""
			if v := resp.Header.Get("Last-Modified"); v != "" {
				extra += "If-Modified-Since: " + v + "\r\n"
			}
			if v := resp.Header.Get("Etag"); v != "" {
				extra += "If-None-Match: " + v + "\r\n"
			}
		default:
			return Errored, at, fmt.Errorf("http %d", resp.StatusCode)
		}
	}
}
