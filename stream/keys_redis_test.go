package stream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// Keys mode on a real redis-server: what Redis sends a replica, and what
// reaches its waiters when a write races a subscription, or waits come and
// go by the thousand.

// keysConfig is the hub's configuration over rdb, subscribing as sub says,
// every job's record and error message as its keys.
func keysConfig(rdb *redis.Client, sub stream.Subscribe) stream.Config[string] {
	return stream.Config[string]{
		Redis:     redisconn.Of(rdb),
		Pattern:   "job:*",
		Keys:      func(id string) []string { return []string{"job:" + id, "job:" + id + ":error"} },
		JobID:     func(key string) (string, bool) { return strings.CutPrefix(strings.TrimSuffix(key, ":error"), "job:") },
		Read:      getRead(rdb),
		Same:      func(a, b string) bool { return a == b },
		Notify:    stream.Keyspace,
		Subscribe: sub,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// runHub runs a hub with cfg until the test ends, and waits until it is
// ready.
func runHub(t *testing.T, cfg stream.Config[string]) *stream.Hub[string] {
	t.Helper()
	h := stream.New(cfg)
	streamtest.Run(t, hubWait, "Run", func(ctx context.Context) { _ = h.Run(ctx) })
	streamtest.Eventually(t, hubWait, "hub ready", h.Ready)
	return h
}

// netOutput is Redis's total_net_output_bytes.
func netOutput(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "stats").Result()
	require.NoError(t, err)
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "total_net_output_bytes:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("INFO stats has no total_net_output_bytes")
	return 0
}

// TestKeysUnwatchedWritesReachNoReplica: two replicas hold waits on a few
// jobs each while thousands of other jobs are written (SET … EX, as a
// producer does). Under SubscribeKeys Redis sends the replicas nothing for
// those writes: no notification arrives, no channel of them is subscribed,
// and Redis's output is the writer's replies; under SubscribePattern every
// write sends each replica its set and expire events.
func TestKeysUnwatchedWritesReachNoReplica(t *testing.T) {
	const writes = 2000
	for _, sub := range []stream.Subscribe{stream.SubscribeKeys, stream.SubscribePattern} {
		t.Run(string(sub), func(t *testing.T) {
			srv := redistest.Start(t)
			prod := srv.Client(t)
			ctx := context.Background()
			var hubs []*stream.Hub[string]
			for r := range 2 {
				rdb := srv.Client(t)
				h := runHub(t, keysConfig(rdb, sub))
				for j := range 5 {
					id := fmt.Sprintf("watched-%d-%d", r, j)
					require.NoError(t, prod.Set(ctx, "job:"+id, "PENDING", time.Hour).Err())
					w, _, err := h.Watch(ctx, id)
					require.NoError(t, err)
					t.Cleanup(w.Close)
					streamtest.Eventually(t, hubWait, "job "+id+" subscribed and read", func() bool { return h.Confirmed(id) })
				}
				hubs = append(hubs, h)
			}
			before := make([]uint64, len(hubs))
			for i, h := range hubs {
				before[i] = h.Stats().Notifications
			}
			b0 := netOutput(t, prod)
			b1 := netOutput(t, prod) // b1 - b0: one INFO's answer
			_, err := prod.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range writes {
					p.Set(ctx, fmt.Sprintf("job:unwatched-%d", i), "PENDING", time.Hour)
				}
				return nil
			})
			require.NoError(t, err)
			const reply = len("+OK\r\n")
			var out int64
			if sub == stream.SubscribeKeys {
				out = netOutput(t, prod) - b1 - (b1 - b0) - writes*int64(reply)
			} else {
				// Every event reaches both replicas: wait for the last.
				streamtest.Eventually(t, hubWait, "every event received", func() bool {
					for i, h := range hubs {
						if h.Stats().Notifications-before[i] < writes {
							return false
						}
					}
					return true
				})
				out = netOutput(t, prod) - b1 - (b1 - b0) - writes*int64(reply)
			}
			t.Logf("%s: %d unwatched writes, 2 replicas: Redis sent %d bytes besides the writer's replies (%.1f a write)", sub, writes, out, float64(out)/writes)
			numsub, err := prod.PubSubNumSub(ctx, "__keyspace@0__:job:unwatched-0").Result()
			require.NoError(t, err)
			for i, h := range hubs {
				got := h.Stats().Notifications - before[i]
				if sub == stream.SubscribeKeys {
					assert.Zero(t, got, "replica %d: notifications of unwatched writes", i)
				} else {
					assert.GreaterOrEqual(t, got, uint64(writes), "replica %d: a notification per write (its expire event changes no state and is not counted)", i)
				}
			}
			if sub == stream.SubscribeKeys {
				assert.Zero(t, numsub["__keyspace@0__:job:unwatched-0"], "an unwatched job's channel has no subscriber")
				// The replicas' own commands (a safety re-read, a ping)
				// may fall in the burst: a few hundred bytes at most.
				assert.Less(t, out, int64(writes), "under a byte a write")
			} else {
				assert.Greater(t, out, int64(2*2*writes*50), "a set and an expire event of over 50 bytes a write for each replica")
			}
		})
	}
}

// gatedRedis is a Redis whose nodes' SUBSCRIBE of any channel but the
// one each connection opens with waits for the test: it says on asked
// which channels wait, and sends them once gate is closed.
type gatedRedis struct {
	stream.Redis
	asked chan []string
	gate  chan struct{}
}

func (r gatedRedis) Publishers(ctx context.Context) (stream.Publishers, error) {
	p, err := r.Redis.Publishers(ctx)
	for i := range p.Masters {
		p.Masters[i].Client = gatedNode{p.Masters[i].Client, r}
	}
	return p, err
}

type gatedNode struct {
	stream.NodeClient
	r gatedRedis
}

func (n gatedNode) Subscriber(ctx context.Context) stream.Subscriber {
	return gatedSubscriber{n.NodeClient.Subscriber(ctx), n.r}
}

type gatedSubscriber struct {
	stream.Subscriber
	r gatedRedis
}

func (s gatedSubscriber) Subscribe(ctx context.Context, channels ...string) error {
	if len(channels) > 1 || !strings.HasSuffix(channels[0], "jobwait-anchor") {
		s.r.asked <- channels
		<-s.r.gate
	}
	return s.Subscriber.Subscribe(ctx, channels...)
}

// TestKeysWriteBeforeSubscribeIsNotMissed: a job is written after its
// Watch began, while the job's SUBSCRIBE is held back, so that Redis
// publishes the write to nobody; the Watch returns the state before it,
// and the confirmation's read brings the write to the waiter.
func TestKeysWriteBeforeSubscribeIsNotMissed(t *testing.T) {
	srv := redistest.Start(t)
	prod := srv.Client(t)
	ctx := context.Background()
	cfg := keysConfig(srv.Client(t), stream.SubscribeKeys)
	cfg.Resync = time.Hour // no safety re-read to find the write
	gated := gatedRedis{Redis: cfg.Redis, asked: make(chan []string, 1), gate: make(chan struct{})}
	cfg.Redis = gated
	h := runHub(t, cfg)

	require.NoError(t, prod.Set(ctx, "job:raced", "PENDING", time.Hour).Err())
	type watched struct {
		w   *stream.Waiter[string]
		st  string
		err error
	}
	done := make(chan watched, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, hubWait)
		defer cancel()
		w, st, err := h.Watch(wctx, "raced")
		done <- watched{w, st, err}
	}()
	select {
	case chans := <-gated.asked:
		assert.ElementsMatch(t, []string{"__keyspace@0__:job:raced", "__keyspace@0__:job:raced:error"}, chans)
	case <-time.After(hubWait):
		t.Fatal("no SUBSCRIBE asked for")
	}
	res := <-done
	require.NoError(t, res.err)
	defer res.w.Close()
	assert.Equal(t, "PENDING", res.st, "answered before the SUBSCRIBE")
	require.NoError(t, prod.Set(ctx, "job:raced", "COMPLETED", time.Hour).Err())
	numsub, err := prod.PubSubNumSub(ctx, "__keyspace@0__:job:raced").Result()
	require.NoError(t, err)
	require.Zero(t, numsub["__keyspace@0__:job:raced"], "the write published to nobody")
	close(gated.gate)
	got, ok := next(t, res.w, hubWait)
	require.True(t, ok, "the write before the confirmation never reached the waiter")
	assert.Equal(t, "COMPLETED", got)
	assert.Zero(t, h.Stats().Notifications, "learnt by the confirmation's read, not an event")
}

// TestKeysChurnLosesNothing: a thousand new waits a second, each on a new
// job completed 2 to 200 ms after its wait began (a write often before the
// job's channels are confirmed), each waiter closed once it has its
// result: every waiter gets it, and once the waits are over and the
// linger past, no channel is left subscribed.
func TestKeysChurnLosesNothing(t *testing.T) {
	const (
		rate  = 1000
		waits = 2000
	)
	srv := redistest.Start(t)
	prod := srv.Client(t)
	cfg := keysConfig(srv.Client(t), stream.SubscribeKeys)
	cfg.Linger = 200 * time.Millisecond
	cfg.Resync = time.Hour // no safety re-read to find a write
	h := runHub(t, cfg)
	before := redistest.ReadCommands(t, prod)

	var delivered, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range waits {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), hubWait)
			defer cancel()
			id := "churn-" + strconv.Itoa(i)
			if err := prod.Set(ctx, "job:"+id, "PENDING", time.Hour).Err(); err != nil {
				failed.Add(1)
				return
			}
			w, _, err := h.Watch(ctx, id)
			if err != nil {
				failed.Add(1)
				return
			}
			defer w.Close()
			time.AfterFunc(time.Duration(2+rand.IntN(199))*time.Millisecond, func() {
				prod.Set(context.Background(), "job:"+id, "COMPLETED", time.Hour)
			})
			for {
				if st, _ := w.Latest(); st == "COMPLETED" {
					delivered.Add(1)
					return
				}
				select {
				case <-w.C():
				case <-ctx.Done():
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(waits), delivered.Load(), "every completion delivered")
	assert.Zero(t, failed.Load())
	streamtest.EventuallyEqual(t, hubWait, "channels left", 0, func() int { return h.Stats().Channels })
	cmds := redistest.ReadCommands(t, prod).Since(before)
	t.Logf("%d waits at %d/s: %d SUBSCRIBE and %d UNSUBSCRIBE commands, %d reads (GET) by the hub, %.2f commands a wait besides the test's SETs",
		waits, rate, cmds["subscribe"], cmds["unsubscribe"], cmds["get"], float64(cmds.Total()-cmds["set"])/waits)
	assert.Less(t, cmds["subscribe"], int64(waits), "SUBSCRIBEs shared by the waits of a window")
}

// TestFlagsRemovedAreNoticedWithNothingWatched: notify-keyspace-events
// switched off while no job is watched (so no safety re-read can find a
// change no event announced) is noticed within half a resync interval,
// where CONFIG is allowed, under either subscription: the hub is blind
// and puts the flags back.
func TestFlagsRemovedAreNoticedWithNothingWatched(t *testing.T) {
	const resync = time.Second
	for _, sub := range []stream.Subscribe{stream.SubscribeKeys, stream.SubscribePattern} {
		t.Run(string(sub), func(t *testing.T) {
			srv := redistest.Start(t)
			admin := srv.Client(t)
			cfg := keysConfig(srv.Client(t), sub)
			cfg.Notify, cfg.Resync = stream.Auto, resync
			h := runHub(t, cfg)
			require.NoError(t, admin.ConfigSet(context.Background(), "notify-keyspace-events", "").Err())
			off := time.Now()
			streamtest.Eventually(t, 2*resync, "blind", func() bool { return h.Stats().Blind })
			t.Logf("%s: blind %v after the flags were switched off", sub, time.Since(off).Round(time.Millisecond))
			flags, err := admin.ConfigGet(context.Background(), "notify-keyspace-events").Result()
			require.NoError(t, err)
			have := flags["notify-keyspace-events"]
			assert.Equal(t, have, stream.MergeFlags(have, stream.NotifyFlags), "restored")
			assert.EqualValues(t, 1, h.Stats().BlindEpisodes)
		})
	}
}

// TestKeysWatchWhileAutoFallsBackToPoll: under JOBWAIT_NOTIFY=auto with
// CONFIG refused the hub polls, and drops the subscription set as it
// starts to; held Watches made before, while and after the mode is chosen
// each get their job's state and its change (under -race: none reads the
// set unguarded while it is dropped).
func TestKeysWatchWhileAutoFallsBackToPoll(t *testing.T) {
	srv := redistest.Start(t, "--rename-command", "CONFIG", "")
	prod := srv.Client(t)
	ctx := context.Background()
	const n = 400
	for i := range n {
		require.NoError(t, prod.Set(ctx, "job:auto-"+strconv.Itoa(i), "PENDING", time.Hour).Err())
	}
	cfg := keysConfig(srv.Client(t), stream.SubscribeKeys)
	cfg.Notify = stream.Auto
	h := stream.New(cfg)
	ws := make([]*stream.Waiter[string], n)
	var wg sync.WaitGroup
	after := 0 // Watches begun once the hub has chosen to poll
	for i := range n {
		if i == 10 {
			streamtest.Run(t, hubWait, "Run", func(ctx context.Context) { _ = h.Run(ctx) })
		}
		if h.Mode() == stream.Poll {
			after++
		}
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, hubWait)
			defer cancel()
			w, st, err := h.Watch(wctx, "auto-"+strconv.Itoa(i))
			if assert.NoError(t, err) {
				assert.Equal(t, "PENDING", st)
				ws[i] = w
			}
		})
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	require.Equal(t, stream.Poll, h.Mode())
	require.Positive(t, after, "no Watch began after the mode was chosen")
	for i, w := range ws {
		require.NotNil(t, w)
		require.NoError(t, prod.Set(ctx, "job:auto-"+strconv.Itoa(i), "COMPLETED", time.Hour).Err())
	}
	for i, w := range ws {
		got, ok := next(t, w, hubWait)
		require.True(t, ok, "job %d", i)
		assert.Equal(t, "COMPLETED", got)
		w.Close()
	}
}

// TestOpensWithPingRefused: an ACL that refuses PING (docs/production.md:
// served, at a cost) still lets either subscription open: the hub is live
// and ready, and a write reaches its waiter by its notification.
func TestOpensWithPingRefused(t *testing.T) {
	for _, sub := range []stream.Subscribe{stream.SubscribeKeys, stream.SubscribePattern} {
		t.Run(string(sub), func(t *testing.T) {
			srv := redistest.Start(t)
			admin := srv.Client(t)
			ctx := context.Background()
			require.NoError(t, admin.ConfigSet(ctx, "notify-keyspace-events", stream.NotifyFlags).Err())
			require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "noping", "on", ">pw", "~*", "&*", "+@all", "-ping").Err())
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "noping", Password: "pw"})
			t.Cleanup(func() { rdb.Close() })
			cfg := keysConfig(rdb, sub)
			cfg.Resync = time.Hour // the write is learnt by its notification
			h := runHub(t, cfg)
			assert.True(t, h.Stats().Live)

			require.NoError(t, admin.Set(ctx, "job:p", "PENDING", time.Hour).Err())
			w, st, err := h.Watch(ctx, "p")
			require.NoError(t, err)
			defer w.Close()
			assert.Equal(t, "PENDING", st)
			streamtest.Eventually(t, hubWait, "the job's channels confirmed", func() bool {
				n, err := admin.PubSubNumSub(ctx, "__keyspace@0__:job:p").Result()
				return err == nil && n["__keyspace@0__:job:p"] == 1 || sub == stream.SubscribePattern
			})
			require.NoError(t, admin.Set(ctx, "job:p", "COMPLETED", time.Hour).Err())
			got, ok := next(t, w, hubWait)
			require.True(t, ok)
			assert.Equal(t, "COMPLETED", got)
			assert.Positive(t, h.Stats().Notifications)
		})
	}
}
