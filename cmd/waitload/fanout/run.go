package fanout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/store/redisconn"
)

// writers is how many writes the producer has in flight.
const writers = 8

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
	ctx := context.Background()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "waitload fanout:", err)
		return 1
	}
	res.row(stdout)
	if cfg.JSON != "" {
		if err := res.appendJSON(cfg.JSON); err != nil {
			fmt.Fprintln(stderr, "waitload fanout:", err)
			return 1
		}
	}
	if res.Delivered+res.LostBy < res.Waits {
		fmt.Fprintf(stderr, "waitload fanout: %d of %d completions that Redis holds not delivered\n", res.Waits-res.Delivered-res.LostBy, res.Waits)
		return 3
	}
	return 0
}

// Run makes one run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	conn, err := redisconn.Open(ctx, redisconn.Settings{URL: cfg.RedisURL}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	rdb, ok := redisconn.Single(conn.Client())
	if !ok {
		return Result{}, fmt.Errorf("%s: one node or Sentinel only", conn)
	}
	r := &runner{cfg: cfg, rdb: rdb, st: store.New(rdb), clients: newClients(cfg.Sources), jobwaits: newJobwaits(cfg.Targets), prefix: "fo-" + randomHex() + "-"}
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
	cfg      Config
	rdb      *redis.Client
	st       *store.Store
	clients  *clients
	jobwaits *jobwaits
	prefix   string // of the run's job ids
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// watch creates n jobs (PROCESSING) and opens a stream on each, spread over
// the replicas, and waits until every stream has its first event.
func (r *runner) watch(ctx context.Context, n int, kind string) ([]store.Job, []*stream, error) {
	jobs := make([]store.Job, n)
	errs := make([]error, n)
	pace(ctx, 1e9, n, writers, func(i int) {
		jobs[i], errs[i] = r.st.Create(ctx, fmt.Sprintf("%s%s-%d", r.prefix, kind, i), fmt.Sprintf("%sdraft-%d", r.prefix, i))
		if errs[i] == nil {
			jobs[i], errs[i] = r.st.Start(ctx, jobs[i])
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("create the watched jobs: %w", err)
	}
	ss := make([]*stream, n)
	for i, j := range jobs {
		ss[i] = r.clients.open(ctx, r.cfg.Targets[i%len(r.cfg.Targets)], j.JobID)
		if i%200 == 199 {
			time.Sleep(10 * time.Millisecond) // spread the connections' accepts
		}
	}
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := waitAll(hctx, ss, heldOf); err != nil {
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
