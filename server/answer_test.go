package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server"
	"jobwait/store"
	"jobwait/store/redisconn"
	"jobwait/store/redistest"
	"jobwait/stream"
	"jobwait/stream/streamtest"
)

// TestCompletionCostsOneRoundTrip counts what the hub sends Redis for one
// job's completion, from the notification to every waiter holding the
// answer: the job was read before (its draft is known), so the record, the
// recommendation and the error message are read in one round trip, whatever
// the number of waiters. (Under a pattern subscription, whose
// notifications of every write let the test see the hub idle before it
// counts; keys mode's completions take the same path.)
func TestCompletionCostsOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	trips := redistest.CountTrips(rdb)
	prod := store.New(srv.Client(t))

	cfg := server.HubConfig(store.New(rdb))
	cfg.Redis, cfg.Notify, cfg.Subscribe = redisconn.Of(rdb), stream.Keyspace, stream.SubscribePattern
	cfg.Resync = time.Hour // no safety re-read or flags check in the count
	hub := stream.New(cfg)
	streamtest.Run(t, 10*time.Second, "hub", func(ctx context.Context) { _ = hub.Run(ctx) })
	streamtest.Eventually(t, 10*time.Second, "hub ready", hub.Ready)
	ctx := context.Background()

	writes := uint64(0) // the test's writes under job:*, each one notification
	for _, n := range []int{1, 100} {
		t.Run(fmt.Sprintf("waiters=%d", n), func(t *testing.T) {
			id := fmt.Sprintf("trips-%d", n)
			job, err := prod.Create(ctx, id, "draft-"+id)
			require.NoError(t, err)
			job, err = prod.Start(ctx, job)
			require.NoError(t, err)
			writes += 2
			// Every earlier write's notification has come (a late one
			// would start a read inside the count) before any waiter
			// watches; those of a job nobody watches cost nothing.
			streamtest.EventuallyEqual(t, 10*time.Second, "notifications", writes, func() uint64 { return hub.Stats().Notifications })
			ws := make([]*stream.Waiter[*server.Answer], n)
			for i := range ws {
				wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
				w, a, err := hub.Watch(wctx, id)
				wcancel()
				require.NoError(t, err)
				require.Equal(t, store.Processing, a.Status)
				t.Cleanup(w.Close)
				ws[i] = w
			}

			trips.Reset()
			_, err = prod.Complete(ctx, job, store.SampleResult(job.EventDraftID))
			require.NoError(t, err)
			writes++
			awaitStatus(t, ws, store.Completed)
			got, cmds := trips.Count()
			t.Logf("%d waiters: %d round trip(s), %d commands %v per completion", n, got, len(cmds), cmds)
			assert.Equal(t, 1, got, "round trips per completion: %v", cmds)
			assert.Equal(t, []string{"get", "mget"}, cmds, "the record; the recommendation and the error message in one MGET")
		})
	}
}

// awaitStatus waits until every waiter of ws holds an answer of status st.
func awaitStatus(t *testing.T, ws []*stream.Waiter[*server.Answer], st store.Status) {
	t.Helper()
	for _, w := range ws {
		for {
			if a, _ := w.Latest(); a != nil && a.Status == st {
				break
			}
			select {
			case <-w.C():
			case <-time.After(5 * time.Second):
				t.Fatalf("waiter not woken with %s within 5s", st)
			}
		}
	}
}
