package fanout

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/cmd/waitload/probe"
	"jobwait/cmd/waitload/producer"
	"jobwait/store"
	"jobwait/store/redisconn"
)

// Main runs `waitload fanout` and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := Parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "waitload fanout:", err, "(waitload fanout -h lists every flag)")
		return 2
	}
	res, err := Run(context.Background(), cfg)
	if err == nil {
		res.row(stdout)
		if cfg.JSON != "" {
			err = res.appendJSON(cfg.JSON)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "waitload fanout:", err)
		return 1
	}
	if res.Delivered+res.LostBy < res.Waits {
		fmt.Fprintf(stderr, "waitload fanout: %d of %d completions that Redis holds not delivered\n", res.Waits-res.Delivered-res.LostBy, res.Waits)
		return 3
	}
	return 0
}

// Run makes one run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	conn, err := redisconn.Open(ctx, redisconn.Settings{URL: cfg.RedisURL}, slog.New(slog.DiscardHandler))
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	rdb, ok := redisconn.Single(conn.Client())
	if !ok {
		return Result{}, fmt.Errorf("%s: one node or Sentinel only", conn)
	}
	r := &runner{cfg: cfg, rdb: rdb, st: store.New(rdb), probes: &http.Client{Timeout: 2 * time.Second},
		prefix: fmt.Sprintf("fo-%08x-", rand.Uint32())}
	// One client per source address, each stream on a connection of its own.
	for i := range cfg.Sources {
		d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}
		r.streams = append(r.streams, &http.Client{Transport: &http.Transport{
			DialContext:           d.DialContext,
			DisableKeepAlives:     true,
			DisableCompression:    true,
			ResponseHeaderTimeout: 30 * time.Second,
		}})
	}
	res := Result{Run: cfg.Run, Label: cfg.Label, Replicas: len(cfg.Targets), Rate: cfg.Rate}
	switch cfg.Run {
	case "steady":
		err = r.steady(ctx, &res)
	case "churn":
		err = r.churn(ctx, &res)
	case "disrupt":
		err = r.disrupt(ctx, &res)
	}
	return res, err
}

// runner is one run's parts.
type runner struct {
	cfg     Config
	rdb     *redis.Client
	st      *store.Store
	probes  *http.Client   // the replicas' /metrics and /readyz
	streams []*http.Client // by source address
	next    atomic.Uint64  // the source address of the next stream
	prefix  string         // of the run's job ids
}

// sum is metric name summed over the replicas.
func (r *runner) sum(ctx context.Context, name string) (float64, error) {
	total := 0.0
	for _, t := range r.cfg.Targets {
		m, err := probe.Metrics(ctx, r.probes, t)
		if err != nil {
			return 0, err
		}
		total += m[name]
	}
	return total, nil
}

// ready reports whether every replica's /readyz answers 200.
func (r *runner) ready(ctx context.Context) bool {
	for _, t := range r.cfg.Targets {
		if _, err := probe.Get(ctx, r.probes, t+"/readyz"); err != nil {
			return false
		}
	}
	return true
}

// watch creates n jobs (PROCESSING) and opens a stream on each, spread over
// the replicas, and waits until every stream has its first event.
func (r *runner) watch(ctx context.Context, n int, kind string) ([]store.Job, []*stream, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%s-%d", r.prefix, kind, i)
	}
	jobs, err := producer.New(r.st, producer.StoreCommands).Create(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("create the watched jobs: %w", err)
	}
	ss := make([]*stream, n)
	for i, j := range jobs {
		ss[i] = r.open(ctx, i, j.JobID)
		if i%200 == 199 {
			time.Sleep(10 * time.Millisecond) // spread the connections' accepts
		}
	}
	if err := waitAll(ctx, ss, 2*time.Minute, true); err != nil {
		return nil, nil, fmt.Errorf("streams not held: %w", err)
	}
	for _, s := range ss {
		if s.err != nil {
			return nil, nil, fmt.Errorf("a stream ended before its job did: %w", s.err)
		}
	}
	return jobs, ss, nil
}

// complete completes job j, retrying while Redis does not take the write
// (a failover), and returns when its last write returned.
func (r *runner) complete(ctx context.Context, j store.Job) time.Time {
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := r.st.Complete(wctx, j, store.SampleResult(j.EventDraftID))
		cancel()
		if err == nil {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}
}

var errStill = errors.New("still not")

// poll calls done every `every` until it says so or fails, ctx ends, or
// within passes (errStill).
func poll(ctx context.Context, every, within time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		if ok, err := done(); ok || err != nil {
			return err
		}
		if !time.Now().Before(deadline) {
			return errStill
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
