package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// The hub over a real redis-server. Its state here is the raw value of
// job:{id} ("" when missing), read with one pipelined GET per batch.

// hubFixture is a running hub over a private redis-server.
type hubFixture struct {
	srv  *redistest.Server
	rdb  *redis.Client // the hub's
	prod *redis.Client // the tests' writes
	hub  *stream.Hub[string]
	stop func() // cancels Run and waits for it; idempotent
}

func startHub(t *testing.T, mode stream.Mode, redisArgs ...string) *hubFixture {
	t.Helper()
	return startHubWith(t, mode, func(*stream.Config[string], *redis.Client) {}, redisArgs...)
}

// readFunc is the hub's Config.Read of these tests.
type readFunc = func(ctx context.Context, ids, prev []string) ([]string, error)

// startHubWith is startHub with the hub's configuration changed by opt,
// which is given the hub's client.
func startHubWith(t *testing.T, mode stream.Mode, opt func(*stream.Config[string], *redis.Client), redisArgs ...string) *hubFixture {
	t.Helper()
	f := &hubFixture{srv: redistest.Start(t, redisArgs...)}
	f.rdb = redis.NewClient(&redis.Options{Addr: f.srv.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { f.rdb.Close() })
	f.prod = f.srv.Client(t)
	cfg := stream.Config[string]{
		Redis:   redisconn.Of(f.rdb),
		Pattern: "job:*",
		JobID:   func(key string) (string, bool) { return strings.CutPrefix(key, "job:") },
		Read:    getRead(f.rdb),
		Same:    func(a, b string) bool { return a == b },
		Notify:  mode,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	opt(&cfg, f.rdb)
	f.hub = stream.New(cfg)
	f.stop = streamtest.Run(t, hubWait, "Run", func(ctx context.Context) { _ = f.hub.Run(ctx) })
	streamtest.Eventually(t, hubWait, "hub ready", f.hub.Ready)
	return f
}

// getRead reads job:{id} for each id in one pipeline.
func getRead(c *redis.Client) readFunc {
	return func(ctx context.Context, ids, _ []string) ([]string, error) {
		cmds := make([]*redis.StringCmd, len(ids))
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.Get(ctx, "job:"+id)
			}
			return nil
		})
		out := make([]string, len(ids))
		for i, cmd := range cmds {
			v, err := cmd.Result()
			if err != nil && err != redis.Nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

// hubWait bounds what a hub test waits for.
const hubWait = 10 * time.Second

func (f *hubFixture) set(t *testing.T, id, v string) {
	t.Helper()
	require.NoError(t, f.prod.Set(context.Background(), "job:"+id, v, 0).Err())
}

func (f *hubFixture) watch(t *testing.T, id string) (*stream.Waiter[string], string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, st, err := f.hub.Watch(ctx, id)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	streamtest.Eventually(t, hubWait, "job "+id+" subscribed and read", func() bool { return f.hub.Confirmed(id) })
	return w, st
}

// wakeWith waits at most d for w to be woken with state want.
func wakeWith(t *testing.T, w *stream.Waiter[string], want string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case <-w.C():
			if st, _ := w.Latest(); st == want {
				return
			}
		case <-deadline:
			st, _ := w.Latest()
			t.Fatalf("waiter not woken with %q within %v; latest %q", want, d, st)
		}
	}
}

// TestWatchCopiesID: the id given to Watch may live in a buffer its caller
// reuses (fasthttp's request): the hub must not keep it.
func TestWatchCopiesID(t *testing.T) {
	f := startHub(t, stream.Keyspace)
	f.set(t, "borrowed", "PENDING")
	buf := []byte("borrowed")
	id := unsafe.String(&buf[0], len(buf))
	w, st := f.watch(t, id)
	require.Equal(t, "PENDING", st)
	copy(buf, "scribble") // the caller's buffer serves another request

	f.set(t, "borrowed", "DONE")
	wakeWith(t, w, "DONE", 5*time.Second)
	w.Close()
	assert.Equal(t, 0, f.hub.Stats().Jobs, "a closed waiter leaves nothing behind")
	assert.Equal(t, 0, f.hub.Stats().Waiters)
}

// TestNotificationsSurviveRestart: a restarted Redis has lost the
// notify-keyspace-events the hub set with CONFIG SET; the hub sets it again.
func TestNotificationsSurviveRestart(t *testing.T) {
	f := startHub(t, stream.Keyspace)
	f.srv.Stop()
	streamtest.Eventually(t, hubWait, "hub not ready while redis is down", func() bool { return !f.hub.Ready() })
	f.srv.Resume(t)
	streamtest.Eventually(t, hubWait, "hub ready again", f.hub.Ready)

	flags, err := f.prod.ConfigGet(context.Background(), "notify-keyspace-events").Result()
	require.NoError(t, err)
	have := flags["notify-keyspace-events"]
	assert.Equal(t, have, stream.MergeFlags(have, stream.NotifyFlags), "notify-keyspace-events %q lacks some of %q", have, stream.NotifyFlags)

	f.set(t, "after", "PENDING")
	w, _ := f.watch(t, "after")
	f.set(t, "after", "DONE")
	wakeWith(t, w, "DONE", 5*time.Second)
}

// TestWatchAfterRunEnds: once Run's context ends, Watch answers ErrClosed,
// also for a job whose state the hub still holds.
func TestWatchAfterRunEnds(t *testing.T) {
	for _, mode := range []stream.Mode{stream.Keyspace, stream.Poll} {
		t.Run(string(mode), func(t *testing.T) {
			f := startHub(t, mode)
			f.set(t, "held", "PENDING")
			w, _ := f.watch(t, "held")
			_, _ = f.watch(t, "held") // the hub's knowledge, after a first read
			f.stop()

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, id := range []string{"held", "new"} {
				w2, _, err := f.hub.Watch(ctx, id)
				assert.ErrorIs(t, err, stream.ErrClosed, "Watch(%q) after Run", id)
				assert.Nil(t, w2)
			}
			st, _ := w.Latest()
			assert.Equal(t, "PENDING", st, "a held waiter keeps its last state")
		})
	}
}

// TestWatchesShareReads: any number of Watch calls on a job not read yet,
// and any number of waiters woken by one change, share a few reads.
func TestWatchesShareReads(t *testing.T) {
	const n = 500
	f := startHub(t, stream.Keyspace)
	f.set(t, "shared", "PENDING")
	before := f.hub.Stats()

	ws := make([]*stream.Waiter[string], n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var st string
			ws[i], st, errs[i] = f.hub.Watch(ctx, "shared")
			if errs[i] == nil && st != "PENDING" {
				errs[i] = fmt.Errorf("Watch state %q", st)
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		t.Cleanup(ws[i].Close)
	}
	registered := f.hub.Stats()
	t.Logf("%d concurrent Watch calls: %d reads", n, registered.Reads-before.Reads)
	assert.LessOrEqual(t, registered.Reads-before.Reads, uint64(n/10), "Watch calls share reads")

	f.set(t, "shared", "DONE")
	for _, w := range ws {
		wakeWith(t, w, "DONE", 5*time.Second)
	}
	after := f.hub.Stats()
	assert.LessOrEqual(t, after.Reads-registered.Reads, uint64(2), "one change, one read")
	assert.Equal(t, uint64(n), after.Fanouts-registered.Fanouts)
}

// TestReadFailureIsWatchError: with Redis gone, Watch of a job the hub does
// not know fails and leaves no waiter behind.
func TestReadFailureIsWatchError(t *testing.T) {
	f := startHub(t, stream.Keyspace)
	f.srv.Stop()
	streamtest.Eventually(t, hubWait, "hub not ready", func() bool { return !f.hub.Ready() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, _, err := f.hub.Watch(ctx, "unreachable")
	require.Error(t, err)
	assert.False(t, errors.Is(err, stream.ErrClosed))
	assert.Nil(t, w)
	assert.Equal(t, 0, f.hub.Stats().Waiters)
}

// TestReadPanicFailsTheRead: a panic in Read (a bug) fails the Watch calls
// that shared the read, as a Redis error would; the hub and its other jobs
// carry on.
func TestReadPanicFailsTheRead(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	read := getRead(rdb)
	hub := stream.New(stream.Config[string]{
		Redis:   redisconn.Of(rdb),
		Pattern: "job:*",
		JobID:   func(key string) (string, bool) { return strings.CutPrefix(key, "job:") },
		Read: func(ctx context.Context, ids, prev []string) ([]string, error) {
			if slices.Contains(ids, "bug") {
				panic("read bug")
			}
			return read(ctx, ids, prev)
		},
		Same:   func(a, b string) bool { return a == b },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	streamtest.Run(t, hubWait, "Run", func(ctx context.Context) { _ = hub.Run(ctx) })
	streamtest.Eventually(t, hubWait, "hub ready", hub.Ready)

	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	w, _, err := hub.Watch(wctx, "bug")
	require.Error(t, err)
	assert.ErrorIs(t, err, stream.ErrReadPanic)
	assert.Nil(t, w)

	require.NoError(t, rdb.Set(context.Background(), "job:fine", "PENDING", 0).Err())
	w, st, err := hub.Watch(wctx, "fine")
	require.NoError(t, err)
	defer w.Close()
	assert.Equal(t, "PENDING", st)
	assert.True(t, hub.Ready())
}
